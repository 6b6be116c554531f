"""Issue 14 through the real binary: the spend ledger (llm_spend_usd) survives a
restart with --storage.path exactly; GET /v1/budgets and /v1/prices on the ingest
listener. Every expected figure is computed here from the events sent and the
published per-million rates (claude-haiku-4-5: $1 input, $5 output per MTok)."""
import calendar
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from exporter_process import Exporter, value  # noqa: E402
from http_client import http  # noqa: E402

SOURCE_DIR = os.environ["SOURCE_DIR"]
BINARY = os.environ["EXPORTER_BINARY"]
PRICES = os.path.join(SOURCE_DIR, "exporter", "pricing", "prices.yml")

CONFIG = """
budgets:
  - {scope: global, period: day, usd: 1}
  - {scope: 'feature:chat', period: month, usd: 0.05, warn_at: 0.5}
  - {scope: 'route:/api/chat', period: week, usd: 0.02}
"""


def pico(inp, out):
    """pUSD of a haiku-4-5 request: $1 and $5 per million tokens."""
    return inp * 1_000_000 + out * 5_000_000


def event(inp, out, **labels):
    return {"model": "claude-haiku-4-5", "usage": {"input_tokens": inp, "output_tokens": out}, "labels": labels}


def away_from_midnight(margin=45):
    """These tests read the real clock: never start within `margin` seconds of a
    UTC day boundary (the unit tests cross boundaries with an injected clock)."""
    left = 86400 - time.time() % 86400
    if left < margin:
        time.sleep(left + 1)


class LedgerRestartTest(unittest.TestCase):
    def setUp(self):
        away_from_midnight()
        self.dir = tempfile.mkdtemp(prefix="llm-budgets-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def exporter(self, ports_from=None):
        e = Exporter(BINARY, PRICES, CONFIG, ["--storage.path=" + self.dir])
        if ports_from is not None:
            e.web_port, e.ingest_port = ports_from.web_port, ports_from.ingest_port
        self.addCleanup(e.close)
        return e.start()

    def test_restart_keeps_every_figure_exact(self):
        a = self.exporter()
        sent = [(1247, 311, {"feature": "chat", "route": "/api/chat"}), (20000, 1000, {"feature": "chat"}),
                (3333, 7, {"feature": "search"}), (1, 1, {})]
        status, _ = a.post(json.dumps([event(i, o, **l) for i, o, l in sent]))
        self.assertEqual(status, 202)
        want = {
            "global": sum(pico(i, o) for i, o, _ in sent),
            "feature:chat": sum(pico(i, o) for i, o, l in sent if l.get("feature") == "chat"),
            "route:/api/chat": sum(pico(i, o) for i, o, l in sent if l.get("route") == "/api/chat"),
        }
        before = a.scrape()
        for scope, p in want.items():
            for period in ("day", "week", "month"):
                got = value(before, "llm_spend_usd", scope=scope, period=period)
                self.assertIsNotNone(got, (scope, period))
                self.assertAlmostEqual(got, p / 1e12, places=15, msg=(scope, period))
        self.assertEqual(value(before, "llm_budget_usd", scope="route:/api/chat", period="week"), 0.02)
        self.assertEqual(a.stop(), 0, a.read_log()[-2000:])

        b = self.exporter(ports_from=a)
        after = b.scrape()
        for scope in want:
            for period in ("day", "week", "month"):
                self.assertEqual(value(after, "llm_spend_usd", scope=scope, period=period),
                                 value(before, "llm_spend_usd", scope=scope, period=period), (scope, period))
        # And it keeps counting from there.
        b.post(json.dumps(event(500, 50, feature="chat")))
        later = b.scrape()
        self.assertAlmostEqual(value(later, "llm_spend_usd", scope="feature:chat", period="month"),
                               (want["feature:chat"] + pico(500, 50)) / 1e12, places=15)


if __name__ == "__main__":
    unittest.main()
