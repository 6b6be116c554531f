"""Replays tests/state/golden_v1/events.json against a running exporter (the real
binary, through tests/lib), so the golden state files are produced by real traffic.
Shared by make_golden.py (which writes the fixture) and the upgrade tests (which
compute the expected values from the same events, independently of the exporter)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from exporter_process import total  # noqa: E402

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_v1")


def load_events():
    with open(os.path.join(GOLDEN_DIR, "events.json")) as f:
        return json.load(f)


def padded_body(size):
    """A valid event padded with spaces to `size` bytes: refused as too large."""
    body = '{"model":"claude-haiku-4-5"}'
    return body + " " * (size - len(body))


def replay(exporter, steps):
    """Runs every step; returns the HTTP statuses of the posts, in order."""
    statuses = []
    for step in steps:
        if "http" in step or "http_padded" in step:
            body = step["http"] if "http" in step else padded_body(step["http_padded"])
            statuses.append(exporter.post(body.encode())[0])
        elif "udp" in step:
            before = total(exporter.scrape(), "llm_exporter_events_total", transport="udp")
            exporter.send_udp(step["udp"])
            deadline = time.time() + 5
            while total(exporter.scrape(), "llm_exporter_events_total", transport="udp") == before:
                if time.time() > deadline:
                    raise RuntimeError("udp datagram not counted: %r" % step["udp"])
                time.sleep(0.02)
        elif "settle" in step:
            exporter.settle()
    return statuses
