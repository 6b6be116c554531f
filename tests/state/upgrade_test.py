"""Upgrade safety of the state file, through the real binary: the golden v1 file
written by the release before format 2 (golden_v1/, see make_golden.py) restores
with every value the traffic in events.json produced, computed here from those
events; it is then rewritten as format 2, which restores the same values."""
import os
import shutil
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from exporter_process import Exporter, value  # noqa: E402
from golden_events import GOLDEN_DIR, Expected, load_events  # noqa: E402

SOURCE_DIR = os.environ["SOURCE_DIR"]
BINARY = os.environ["EXPORTER_BINARY"]
PRICES = os.path.join(SOURCE_DIR, "exporter", "pricing", "prices.yml")
STATE = "llm-cost-exporter.state"
# The golden file's request ids were seen when it was made: keep them in the window.
LONG_WINDOW = "--ingest.dedupe-window=87600h"


# Record labels added after v1 restore with their migration defaults (declared once
# beside the record stage's label list, kRecordLabels in record/request_metrics.h).
RECORD_LABEL_DEFAULTS = {("platform", "anthropic"), ("service_tier", "standard")}


def with_record_label_defaults(counters):
    """Every request-level series (those carrying attribution labels) gains them."""
    return {(name, labels | RECORD_LABEL_DEFAULTS if "tenant" in dict(labels) else labels): v
            for (name, labels), v in counters.items()}


class GoldenV1Test(unittest.TestCase):
    def setUp(self):
        self.events = load_events()
        self.expected = Expected(self.events)
        self.expected.counters = with_record_label_defaults(self.expected.counters)
        self.dir = tempfile.mkdtemp(prefix="llm-upgrade-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        shutil.copyfile(os.path.join(GOLDEN_DIR, STATE), os.path.join(self.dir, STATE))

    def exporter(self, config=None, ports_from=None):
        e = Exporter(BINARY, PRICES, config or self.events["config"],
                     ["--storage.path=" + self.dir, LONG_WINDOW] + self.events["flags"])
        if ports_from is not None:
            e.web_port, e.ingest_port = ports_from.web_port, ports_from.ingest_port
        e.start()
        self.addCleanup(e.close)
        return e

    def header(self):
        with open(os.path.join(self.dir, STATE), "rb") as f:
            return f.readline().split()

    def test_every_value_of_the_v1_file_survives_the_upgrade_and_a_v2_rewrite(self):
        self.assertEqual(self.header()[:2], [b"LLMCOSTSTATE", b"1"])
        a = self.exporter()
        s = a.scrape()
        self.expected.compare(s, self)
        self.assertEqual(value(s, "llm_exporter_state_loads_total", result="restored"), 1)
        self.assertEqual(sum(v for (n, _), v in s.items() if n == "llm_exporter_state_entries_skipped_total"), 0)
        self.assertIn("format_version=1", a.read_log())
        self.assertEqual(a.stop(signal.SIGTERM), 0)
        self.assertEqual(self.header()[:2], [b"LLMCOSTSTATE", b"2"])

        b = self.exporter(ports_from=a)
        self.expected.compare(b.scrape(), self)
        self.assertIn("format_version=2", b.read_log())
        # The remembered request ids came through both steps: retries are not counted.
        status, body = b.post(b'{"model":"claude-sonnet-4-5","usage":{"input_tokens":1},"request_id":"req-golden-1"}')
        self.assertEqual((status, body["accepted"], body["errors"][0]["reason"]), (202, 0, "duplicate"))

    def test_a_label_added_to_the_configuration_takes_its_migration_default(self):
        config = self.events["config"].replace("[feature, tenant, route]", "[feature, tenant, route, team]")
        self.assertNotEqual(config, self.events["config"])
        e = self.exporter(config=config)
        s = e.scrape()
        # Every request series restores with team="unknown", what an event without it records.
        widened = {}
        for (name, labels), v in self.expected.counters.items():
            if "tenant" in dict(labels):
                labels = labels | {("team", "unknown")}
            widened[(name, labels)] = v
        self.expected.counters = widened
        self.expected.compare(s, self)
        self.assertEqual(value(s, "llm_exporter_state_loads_total", result="restored"), 1)


class InvalidFileTest(unittest.TestCase):
    """CRC-valid files with one invalid field (invalid/, make_invalid.py): the exporter
    always starts, sets the file aside, counts it as corrupt and names the field.
    The release before format 2 crashed at every start on v1-events-empty.state."""

    def test_every_invalid_file_is_set_aside_and_the_exporter_starts_empty(self):
        invalid = os.path.join(os.path.dirname(os.path.abspath(__file__)), "invalid")
        names = sorted(os.listdir(invalid))
        self.assertGreaterEqual(len(names), 16)
        events = load_events()
        for name in names:
            with self.subTest(name):
                d = tempfile.mkdtemp(prefix="llm-invalid-")
                self.addCleanup(shutil.rmtree, d, True)
                shutil.copyfile(os.path.join(invalid, name), os.path.join(d, STATE))
                e = Exporter(BINARY, PRICES, events["config"], ["--storage.path=" + d]).start()
                try:
                    s = e.scrape()
                    self.assertEqual(value(s, "llm_exporter_state_loads_total", result="corrupt"), 1)
                    self.assertEqual(sum(v for (n, _), v in s.items() if n == "llm_requests_total"), 0)
                    self.assertIn("state file unreadable", e.read_log())
                    self.assertNotIn("checksum", e.read_log())
                    self.assertEqual([f for f in os.listdir(d) if ".corrupt-" in f] != [], True)
                    self.assertEqual(e.stop(signal.SIGTERM), 0)
                    with open(os.path.join(d, STATE), "rb") as f:  # a fresh, valid state replaces it
                        self.assertTrue(f.readline().startswith(b"LLMCOSTSTATE 2 "))
                finally:
                    e.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
