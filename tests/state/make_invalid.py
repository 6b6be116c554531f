#!/usr/bin/env python3
"""Writes tests/state/invalid/*.state: state files whose checksum is right but
whose content is not (hand edits, a bug in some release). Each is the golden v1
file with one edit and a recomputed CRC, so only the field-by-field validation
can catch it; the release before it crashed or loaded garbage on them.

    python3 tests/state/make_invalid.py"""
import json
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden_v1", "llm-cost-exporter.state")
OUT = os.path.join(HERE, "invalid")


def read(path):
    data = open(path, "rb").read()
    nl = data.index(b"\n")
    magic, version, _crc, json_size, ids = data[:nl].split()
    body = data[nl + 1:]
    return int(version), json.loads(body[:int(json_size)]), body[int(json_size):], int(ids)


def write(path, version, doc, ids_bytes, ids):
    body = json.dumps(doc, separators=(",", ":")).encode()
    whole = body + ids_bytes
    header = b"LLMCOSTSTATE %d %08x %d %d\n" % (version, zlib.crc32(whole), len(body), ids)
    with open(path, "wb") as f:
        f.write(header + whole)


EDITS = {
    # The release before format 2 indexed this empty array and crashed at every start.
    "events-empty": lambda d: d["exporter"].__setitem__("events", []),
    "count-1e308": lambda d: d["groups"][0]["tokens"].__setitem__(0, 1e308),
    "request-count-negative": lambda d: d["requests"][0].__setitem__("count", -5.0),
    "cost-1e308": lambda d: d["groups"][0]["cost"].__setitem__(1, 1e308),
    "label-control-character": lambda d: d["requests"][0]["values"].__setitem__(2, "chat\u0007bell"),
    "label-too-long": lambda d: d["groups"][0]["values"].__setitem__(3, "t" * 5000),
    "label-empty": lambda d: d["requests"][0]["values"].__setitem__(0, ""),
    "label-wrong-count": lambda d: d["groups"][0]["values"].pop(),
    "bucket-negative": lambda d: d["histogram_sets"][0]["histograms"][0]["buckets"].__setitem__(0, -3.0),
    "bucket-count-mismatch": lambda d: d["histogram_sets"][0]["histograms"][1]["buckets"].append(1.0),
    "bucket-fractional": lambda d: d["histogram_sets"][0]["histograms"][2]["buckets"].__setitem__(0, 0.5),
    "histogram-sum-negative": lambda d: d["histogram_sets"][0]["histograms"][0].__setitem__("sum", -1.0),
    "bounds-unsorted": lambda d: d["bucket_bounds"][0].reverse(),
    "rejected-short": lambda d: d["exporter"]["rejected"][1].pop(),
    "status-not-a-string": lambda d: d["requests"][0].__setitem__("status", 7),
    "attribution-label-invalid": lambda d: d["attribution_labels"].__setitem__(0, "bad label"),
}


def main():
    version, doc, ids_bytes, ids = read(GOLDEN)
    assert version == 1
    for name, edit in EDITS.items():
        d = json.loads(json.dumps(doc))
        edit(d)
        write(os.path.join(OUT, "v1-%s.state" % name), version, d, ids_bytes, ids)
    print("wrote %d files to %s" % (len(EDITS), OUT))


if __name__ == "__main__":
    main()
