"""Checks files the archive served transcoded (Explicit VR Little Endian or compressed) against the originals, independently.

Arguments: "original::served[::uncompressed reference]" triples. For each, prints
{served: {"syntax", "attributeDifferences", "pixels": {"reference", "maxDifference", "meanDifference"} | null, "photometric"}}:
- every attribute of the original outside File Meta Information must survive with the same value
  (the ones decompression is allowed to change are listed in CHANGED_BY_DECOMPRESSION);
- the pixel values are compared with a reference decompression: pydicom for native originals,
  dcmtk (dcmdjpeg, dcmdjpls, dcmdrle) for JPEG, JPEG-LS and RLE, or an uncompressed copy of the
  same image when one is given (for JPEG 2000 and HTJ2K originals).
- a compressed served file is decompressed the same independent way: dcmtk for JPEG, JPEG-LS and RLE;
  pydicom's Pillow (OpenJPEG 2.5) handler for JPEG 2000 and HTJ2K, which OpenJPEG 2.5 decodes (pydicom
  2.3 does not know the HTJ2K UIDs, so the file is read as JPEG 2000: the codestream syntax is shared).
"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pydicom
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.tag import Tag

warnings.filterwarnings("ignore")

CHANGED_BY_TRANSCODING = {
    Tag(0x7FE0, 0x0010),  # Pixel Data
    Tag(0x7FE0, 0x0001),  # Extended Offset Table
    Tag(0x7FE0, 0x0002),  # Extended Offset Table Lengths
    Tag(0x0028, 0x0004),  # Photometric Interpretation (YBR JPEG decodes to RGB)
    Tag(0x0028, 0x0006),  # Planar Configuration (decoders interleave)
    Tag(0x0028, 0x2110),  # Lossy Image Compression (set when a lossy syntax did not say so)
    Tag(0x0028, 0x2112),  # Lossy Image Compression Ratio (a lossy encoding adds its own)
    Tag(0x0028, 0x2114),  # Lossy Image Compression Method
}
J2K_SYNTAXES = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"}
WORD_VRS = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
DCMTK_DECODERS = {
    "1.2.840.10008.1.2.4.50": "dcmdjpeg",
    "1.2.840.10008.1.2.4.51": "dcmdjpeg",
    "1.2.840.10008.1.2.4.53": "dcmdjpeg",
    "1.2.840.10008.1.2.4.55": "dcmdjpeg",
    "1.2.840.10008.1.2.4.57": "dcmdjpeg",
    "1.2.840.10008.1.2.4.70": "dcmdjpeg",
    "1.2.840.10008.1.2.4.80": "dcmdjpls",
    "1.2.840.10008.1.2.4.81": "dcmdjpls",
    "1.2.840.10008.1.2.5": "dcmdrle",
}


def little_endian_bytes(element, big_endian):
    value = element.value
    size = WORD_VRS.get(element.VR)
    if not big_endian or not size or not isinstance(value, (bytes, bytearray)):
        return value
    array = np.frombuffer(value[: len(value) - len(value) % size], dtype=f">u{size}")
    return array.astype(f"<u{size}").tobytes()


def implicit_value(element):
    """The element's value as Implicit VR Little Endian writes it (header left out)."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = True
    write_data_element(fp, element)
    return fp.getvalue()[8:]


def differences(original, served, big_endian, path=""):
    found = []
    for element in original:
        if element.tag.group == 0x0002 or element.tag.element == 0x0000 or (not path and element.tag in CHANGED_BY_TRANSCODING):
            continue
        where = f"{path}{element.tag.group:04X}{element.tag.element:04X}"
        if element.tag not in served:
            found.append(f"{where} missing")
            continue
        other = served[element.tag]
        if element.VR == "SQ" or other.VR == "SQ":
            if element.VR != other.VR or len(element.value) != len(other.value):
                found.append(f"{where} sequence differs")
                continue
            for i, (a, b) in enumerate(zip(element.value, other.value)):
                found.extend(differences(a, b, big_endian, f"{where}/{i}/"))
            continue
        if other.VR == "UN" and element.VR != "UN":
            # Read from implicit VR without a dictionary entry (private attributes): compare the bytes.
            if implicit_value(element) != other.value:
                found.append(f"{where} {element.VR}->UN value differs")
            continue
        a = little_endian_bytes(element, big_endian)
        b = other.value
        if a != b and str(a) != str(b):
            found.append(f"{where} {element.VR}->{other.VR} value differs")
    return found


def dcmtk_decoded(tool, path, *options):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "decoded.dcm")
        done = subprocess.run([tool, *options, path, out], capture_output=True)
        if done.returncode != 0:
            return None
        return pydicom.dcmread(out).pixel_array


def reference_pixels(original_path, original, reference_path):
    if reference_path:
        return pydicom.dcmread(reference_path).pixel_array, os.path.basename(reference_path)
    syntax = str(original.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2"))
    if syntax in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"):
        # dcmtk rather than pydicom 2.3, which reads 8-bit samples in big endian OW without swapping the words.
        pixels = dcmtk_decoded("dcmconv", original_path, "+te")
        return (pixels, "dcmconv") if pixels is not None else (None, "dcmconv failed")
    tool = DCMTK_DECODERS.get(syntax)
    if not tool:
        return None, None
    pixels = dcmtk_decoded(tool, original_path)
    return (pixels, tool) if pixels is not None else (None, f"{tool} failed")


def served_pixels(path, served):
    syntax = str(served.file_meta.TransferSyntaxUID)
    tool = DCMTK_DECODERS.get(syntax)
    if tool:
        return dcmtk_decoded(tool, path)
    if syntax in J2K_SYNTAXES:
        served.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"
    return served.pixel_array


results = {}
for argument in sys.argv[1:]:
    original_path, served_path, *rest = argument.split("::")
    reference_path = rest[0] if rest else None
    original = pydicom.dcmread(original_path, force=True)
    served = pydicom.dcmread(served_path)
    big_endian = original.file_meta.get("TransferSyntaxUID") == "1.2.840.10008.1.2.2"
    entry = {
        "syntax": str(served.file_meta.TransferSyntaxUID),
        "attributeDifferences": differences(original, served, big_endian),
        "photometric": str(served.get("PhotometricInterpretation", "")),
        "pixels": None,
    }
    if "PixelData" in original:
        try:
            expected, source = reference_pixels(original_path, original, reference_path)
            if expected is not None:
                actual = served_pixels(served_path, served)
                if actual.shape != expected.shape:
                    entry["pixels"] = {"reference": source, "maxDifference": None, "shapes": [list(actual.shape), list(expected.shape)]}
                else:
                    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
                    entry["pixels"] = {
                        "reference": source,
                        "maxDifference": float(diff.max()) if diff.size else 0.0,
                        "meanDifference": float(diff.mean()) if diff.size else 0.0,
                    }
            elif source:
                entry["pixels"] = {"reference": source, "maxDifference": None}
        except Exception as error:  # a reference that cannot be read is reported, not hidden
            entry["pixels"] = {"reference": "error", "maxDifference": None, "error": str(error)}
    results[served_path] = entry
print(json.dumps(results))
