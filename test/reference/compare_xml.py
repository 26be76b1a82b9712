"""Compares the archive's Native DICOM Model XML (PS3.19 A.1) with dcmtk's (dcm2xml -nat +U8).

Arguments: "original.dcm::served.xml" pairs. Prints {served: ["difference", ...]} — an empty list when
every attribute dcmtk writes is in the served XML with the same VR, keyword, private creator and values
(numbers compared as numbers, person names component by component, items recursively, binary values
only for their presence as BulkData or InlineBinary).
"""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

NS = "{http://dicom.nema.org/PS3.19/models/NativeDICOM}"
NUMERIC_VRS = {"DS", "IS", "FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"}


def local(element):
    return element.tag.replace(NS, "")


def children(element, name):
    return [c for c in element if local(c) == name]


def attributes(container):
    # Private attributes are named by creator and element within the block, so the tag alone is not unique.
    return {(a.get("tag").upper(), a.get("privateCreator")): a for a in children(container, "DicomAttribute")}


FLOAT_VRS = {"FL", "FD", "OF", "OD"}


def same_values(expected, actual, vr):
    """Empty values compare equal to none; floats to dcmtk's printed precision (it rounds FL and FD)."""
    expected = [v for v in expected if v != ""] if all(v == "" for v in expected) else expected
    actual = [v for v in actual if v != ""] if all(v == "" for v in actual) else actual
    if len(expected) != len(actual):
        return False
    for a, b in zip(expected, actual):
        if isinstance(a, float) and isinstance(b, float) and vr in FLOAT_VRS:
            if abs(a - b) > 1e-6 * max(abs(a), abs(b), 1e-30):
                return False
        elif a != b:
            return False
    return True


def values(attribute, vr):
    out = []
    for value in children(attribute, "Value"):
        text = value.text or ""
        if vr in NUMERIC_VRS and text.strip():
            try:
                out.append(float(text))
                continue
            except ValueError:
                pass
        out.append(text.rstrip(" \0") if vr != "UT" else text)
    return out


def names(attribute):
    out = []
    for pn in children(attribute, "PersonName"):
        groups = {}
        for group in pn:
            groups[local(group)] = {local(c): (c.text or "") for c in group if (c.text or "")}
        name = {g: v for g, v in groups.items() if v}
        # dcmtk 3.6.7 repeats the ideographic group as the phonetic one when the phonetic group is empty.
        if name.get("Phonetic") is not None and name.get("Phonetic") == name.get("Ideographic"):
            name["Phonetic"] = "same as ideographic"
        out.append(name)
    return [n for n in out if n] if all(not n for n in out) else out


def same_names(expected, actual):
    if len(expected) != len(actual):
        return False
    for a, b in zip(expected, actual):
        if a.get("Phonetic") == "same as ideographic":
            a = {k: v for k, v in a.items() if k != "Phonetic"}
            b = {k: v for k, v in b.items() if k != "Phonetic" or v != a.get("Ideographic")}
        if a != b:
            return False
    return True


def compare(reference, served, path, found):
    ours = attributes(served)
    for key, expected in attributes(reference).items():
        tag = key[0]
        # File meta is not metadata; group lengths are left out; Specific Character Set: dcmtk's +U8 rewrites it.
        if tag.startswith("0002") or tag.endswith("0000") or tag == "00080005":
            continue
        where = f"{path}{tag}"
        actual = ours.get(key)
        if actual is None:
            found.append(f"{where} missing")
            continue
        vr = expected.get("vr")
        if vr == "UN" and actual.get("vr") != "UN":
            continue  # a known attribute written as UN: read with its dictionary VR (CP-246), dcmtk keeps the bytes
        for key in ("keyword", "privateCreator"):
            if expected.get(key) and expected.get(key) != actual.get(key):
                found.append(f"{where} {key} {expected.get(key)!r} != {actual.get(key)!r}")
        if vr != actual.get("vr") and vr != "UN":
            found.append(f"{where} vr {vr} != {actual.get('vr')}")
        if children(expected, "BulkData") or children(expected, "InlineBinary"):
            if not (children(actual, "BulkData") or children(actual, "InlineBinary")):
                found.append(f"{where} binary value missing")
            continue
        if vr == "SQ":
            items, our_items = children(expected, "Item"), children(actual, "Item")
            if len(items) != len(our_items):
                found.append(f"{where} {len(items)} items != {len(our_items)}")
                continue
            for i, (a, b) in enumerate(zip(items, our_items)):
                compare(a, b, f"{where}/{i + 1}/", found)
        elif vr == "PN":
            if not same_names(names(expected), names(actual)):
                found.append(f"{where} person names {names(expected)} != {names(actual)}")
        elif vr != "UN" and not same_values(values(expected, vr), values(actual, actual.get("vr")), vr):
            found.append(f"{where} values {values(expected, vr)[:4]} != {values(actual, actual.get('vr'))[:4]}")


results = {}
for argument in sys.argv[1:]:
    original, served_path = argument.split("::")
    done = subprocess.run(["dcm2xml", "-nat", "+U8", "+Xn", original], capture_output=True)
    if done.returncode != 0:
        results[served_path] = None  # dcmtk cannot read it: no reference
        continue
    try:
        reference = ET.fromstring(done.stdout)
    except ET.ParseError as error:
        results[served_path] = None
        continue
    served = ET.parse(served_path).getroot()
    found = []
    if local(served) != "NativeDicomModel" or not served.tag.startswith(NS):
        found.append(f"root element {served.tag}")
    compare(reference, served, "", found)
    results[served_path] = found
print(json.dumps(results))
