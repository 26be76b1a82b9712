"""Frame bytes as pydicom sees them, for comparison with WADO-RS frame retrieval.

Prints {path: ["<sha256 of frame 1>", ...]} for encapsulated data and for byte-aligned native
little endian data; files pydicom cannot split, or that need realignment, are left out.
"""
import hashlib
import json
import sys
import warnings

import pydicom
from pydicom.encaps import generate_pixel_data_frame

warnings.filterwarnings("ignore")
out = {}
for path in sys.argv[1:]:
    try:
        ds = pydicom.dcmread(path, force=True)
        if "PixelData" not in ds:
            continue
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        ts = ds.file_meta.TransferSyntaxUID if "TransferSyntaxUID" in ds.file_meta else None
        if ts is not None and ts.is_compressed:
            data = [bytes(f) for f in generate_pixel_data_frame(ds.PixelData, frames)]
        else:
            if ts is None or not ts.is_little_endian:
                continue
            samples = 2 if ds.PhotometricInterpretation == "YBR_FULL_422" else int(ds.SamplesPerPixel)
            bits = int(ds.Rows) * int(ds.Columns) * samples * int(ds.BitsAllocated)
            if bits % 8:
                continue
            size = bits // 8
            data = [ds.PixelData[i * size:(i + 1) * size] for i in range(frames)]
            if any(len(d) != size for d in data):
                continue
        out[path] = [hashlib.sha256(d).hexdigest() for d in data]
    except Exception:  # noqa: BLE001 - files pydicom cannot split are simply not compared
        continue
json.dump(out, sys.stdout)
