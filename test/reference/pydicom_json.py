"""Independent reading of DICOM files with pydicom (Debian's python3-pydicom), for comparison tests.

Prints one JSON object: {path: {"json": <DICOM JSON model of the data set>, "uids": {...}} or {"error": "..."}}.
Binary values above 1024 bytes are replaced by the marker "bulk" (we compare inline values only).
"""
import json
import sys
import warnings

import pydicom
from pydicom import config

warnings.filterwarnings("ignore")
config.settings.reading_validation_mode = config.IGNORE


def bulk(_element):
    return "bulk"


out = {}
for path in sys.argv[1:]:
    try:
        ds = pydicom.dcmread(path, force=True)
        uids = {k: str(ds.get(k, "")) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")}
        try:
            data = ds.to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=bulk)
        except Exception as e:  # noqa: BLE001 - report, do not stop
            out[path] = {"error": f"to_json_dict: {e}", "uids": uids}
            continue
        out[path] = {"json": data, "uids": uids}
    except Exception as e:  # noqa: BLE001
        out[path] = {"error": str(e)}
json.dump(out, sys.stdout)
