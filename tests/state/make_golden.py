#!/usr/bin/env python3
"""Writes tests/state/golden_v1/llm-cost-exporter.state: the state file a given
exporter binary leaves after the traffic in golden_v1/events.json and a SIGTERM.

    python3 tests/state/make_golden.py BUILD/exporter/llm-cost-exporter OUT_FILE

Run once with the release whose format the fixture pins (v1: commit a8c76fd);
never regenerate the v1 fixture with a later binary, or it no longer tests the
upgrade from that release."""
import os
import shutil
import signal
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from exporter_process import Exporter  # noqa: E402
from golden_events import load_events, replay  # noqa: E402

SOURCE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main(binary, out):
    events = load_events()
    storage = tempfile.mkdtemp(prefix="llm-golden-")
    try:
        e = Exporter(binary, os.path.join(SOURCE_DIR, "exporter", "pricing", "prices.yml"), events["config"],
                     ["--storage.path=" + storage] + events["flags"])
        with e:
            statuses = replay(e, events["steps"])
            code = e.stop(signal.SIGTERM)
        print("http statuses:", statuses, "exit:", code)
        if code != 0:
            sys.exit("exporter exited %s" % code)
        shutil.copyfile(os.path.join(storage, "llm-cost-exporter.state"), out)
    finally:
        shutil.rmtree(storage, True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
