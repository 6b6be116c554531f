"""Integration test for issue 12 pricing, through the real binary.

The compaction and advisor examples are priced end to end (HTTP ingest -> /metrics)
and through `llm-cost-exporter price`; the bare binary starts with no flags on the
embedded table. Expected values are computed here from the per-million rates of
shared/design/pricing-facts.md.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from exporter_process import Exporter, total, value  # noqa: E402

SOURCE_DIR = os.environ["SOURCE_DIR"]
BINARY = os.environ["EXPORTER_BINARY"]
PRICES = os.path.join(SOURCE_DIR, "exporter", "pricing", "prices.yml")

# USD per million tokens (input, output), pricing-facts.md.
OPUS_46 = (5, 25)
SONNET_46 = (3, 15)

# Anthropic's compaction page example: top level 23,000 / 1,000; iterations
# 180,000 / 3,500 (compaction) + 23,000 / 1,000 (message).
COMPACTION = {"model": "claude-opus-4-6", "usage": {
    "input_tokens": 23000, "output_tokens": 1000,
    "iterations": [{"type": "compaction", "input_tokens": 180000, "output_tokens": 3500},
                   {"type": "message", "input_tokens": 23000, "output_tokens": 1000}]}}
COMPACTION_BEFORE = (23000 * OPUS_46[0] + 1000 * OPUS_46[1]) / 1e6           # top level only: $0.14
COMPACTION_AFTER = (203000 * OPUS_46[0] + 4500 * OPUS_46[1]) / 1e6           # the iterations: $1.1275

# An advisor request shaped as the advisor-tool page describes it (executor Sonnet 4.6,
# advisor Opus 4.6, the advisor's sub-inference only in iterations). The page's own
# figures could not be retrieved verbatim (see docs/pricing.md).
ADVISOR = {"model": "claude-sonnet-4-6", "usage": {
    "input_tokens": 3000, "output_tokens": 600,
    "iterations": [{"type": "message", "input_tokens": 1200, "output_tokens": 150},
                   {"type": "advisor_message", "model": "claude-opus-4-6", "input_tokens": 40000,
                    "output_tokens": 1600},
                   {"type": "message", "input_tokens": 1800, "output_tokens": 450}]}}
ADVISOR_EXECUTOR = (3000 * SONNET_46[0] + 600 * SONNET_46[1]) / 1e6          # top level only
ADVISOR_ADVISOR = (40000 * OPUS_46[0] + 1600 * OPUS_46[1]) / 1e6


def price(events, *args):
    text = "".join(json.dumps(e) + "\n" for e in events)
    r = subprocess.run([BINARY, "price", *args], input=text.encode(), capture_output=True, timeout=20)
    return r.returncode, [json.loads(l) for l in r.stdout.decode().splitlines()], r.stderr.decode()


class IterationsEndToEnd(unittest.TestCase):
    def test_compaction_and_advisor_examples_through_ingest_and_metrics(self):
        e = Exporter(BINARY, PRICES).start()
        self.addCleanup(e.close)
        e.post(json.dumps(COMPACTION))
        e.post(json.dumps(ADVISOR))
        s = e.settle(lambda s: total(s, "llm_requests_total") == 2)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total", model="claude-opus-4-6"),
                               COMPACTION_AFTER + ADVISOR_ADVISOR, places=12)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total", model="claude-sonnet-4-6"), ADVISOR_EXECUTOR, places=12)
        # Tokens land under the model billed for them; each request counts once, under its model.
        self.assertEqual(total(s, "llm_tokens_total", model="claude-opus-4-6", token_type="input"), 203000 + 40000)
        self.assertEqual(total(s, "llm_tokens_total", model="claude-sonnet-4-6", token_type="input"), 3000)
        self.assertEqual(total(s, "llm_requests_total", model="claude-opus-4-6"), 1)
        self.assertEqual(total(s, "llm_requests_total", model="claude-sonnet-4-6"), 1)
        # The per-request cost histogram sees the whole advisor request under the executor.
        self.assertAlmostEqual(value(s, "llm_request_cost_usd_sum", provider="anthropic", model="claude-sonnet-4-6",
                                     feature="unknown"), ADVISOR_EXECUTOR + ADVISOR_ADVISOR, places=12)

    def test_dated_rates_and_the_event_time_window_through_ingest(self):
        # 2000 days keeps 2026-10 events accepted for years; 2020 stays too old.
        e = Exporter(BINARY, PRICES, None, ["--ingest.max-event-age=2000d"]).start()
        self.addCleanup(e.close)
        ev = {"model": "claude-sonnet-5-5", "usage": {"cache_read_input_tokens": 1000000}}
        status, body = e.post(json.dumps([dict(ev, ts="2026-10-06T12:00:00Z", labels={"feature": "before"}),
                                          dict(ev, ts=1791374400, labels={"feature": "after"}),  # 2026-10-07T12:00Z
                                          dict(ev, ts="2020-01-01T00:00:00Z"),
                                          dict(ev, ts="2999-01-01T00:00:00Z")]))
        self.assertEqual((status, body["accepted"]), (202, 2), body)
        self.assertEqual([x["reason"] for x in body["errors"]], ["too_old", "in_future"])
        self.assertEqual([x["field"] for x in body["errors"]], ["ts", "ts"])
        s = e.settle(lambda s: total(s, "llm_requests_total") == 2)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total", feature="before"), 1000000 * 0.20 / 1e6, places=12)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total", feature="after"), 1000000 * 0.10 / 1e6, places=12)
        self.assertEqual(value(s, "llm_exporter_events_rejected_total", transport="http", reason="too_old"), 1)
        self.assertEqual(value(s, "llm_exporter_events_rejected_total", transport="http", reason="in_future"), 1)
        # A table from --pricing.file says so.
        self.assertEqual(value(s, "llm_exporter_pricing_info", as_of="2026-12-01", origin="file", file=PRICES,
                               source="Anthropic pricing, model, fast-mode and data-residency pages (see each entry)"), 1)

    def test_price_command_matches_and_refuses_bad_input(self):
        rc, out, err = price([COMPACTION, ADVISOR])
        self.assertEqual(rc, 0, err)
        self.assertAlmostEqual(out[0]["total_usd"], COMPACTION_AFTER, places=12)
        self.assertAlmostEqual(round(out[0]["total_usd"], 2), 1.13)
        self.assertAlmostEqual(round(COMPACTION_BEFORE, 2), 0.14)
        self.assertAlmostEqual(out[1]["total_usd"], ADVISOR_EXECUTOR + ADVISOR_ADVISOR, places=12)
        self.assertEqual([p["model"] for p in out[1]["parts"]], ["claude-sonnet-4-6", "claude-opus-4-6"])
        self.assertEqual(out[1]["parts"][1]["rates_usd_per_mtok"]["output"], "25")
        self.assertEqual(out[0]["price_table"], "embedded")
        # Dated rates: the same Sonnet 5.5 event before and after the 2026-10-07 read cut
        # (ts within the default 35-day window only if the clock is near; pass a wide window).
        ev = {"model": "claude-sonnet-5-5", "usage": {"cache_read_input_tokens": 1000000}}
        rc, out, err = price([dict(ev, ts="2026-10-06T12:00:00Z"), dict(ev, ts="2026-10-07T12:00:00Z")],
                             "--ingest.max-event-age=100000d", "--ingest.max-clock-skew=100000d")
        self.assertEqual(rc, 0, err)
        self.assertAlmostEqual(out[0]["total_usd"], 1000000 * 0.20 / 1e6, places=12)
        self.assertAlmostEqual(out[1]["total_usd"], 1000000 * 0.10 / 1e6, places=12)
        # Bad input: exit 1 with the reason and field.
        rc, out, err = price([{"model": "claude-opus-4-6", "usage": {"iterations": "x"}}])
        self.assertEqual(rc, 1)
        self.assertIn("bad_field: usage.iterations: must be an array", err)
        rc, out, err = price([{"model": "claude-opus-4-6", "ts": "1999-01-01T00:00:00Z"}])
        self.assertEqual(rc, 1)
        self.assertIn("too_old: ts", err)

    def test_check_pricing_good_and_bad(self):
        r = subprocess.run([BINARY, "check", "pricing", PRICES], capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"SUCCESS", r.stdout)
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "prices.yml")
            with open(PRICES) as f:
                text = f.read()
            with open(bad, "w") as f:
                f.write(text.replace('- from: "2026-10-07"', '- from: "2026-10-77"', 1))
            r = subprocess.run([BINARY, "check", "pricing", bad], capture_output=True, timeout=20)
            self.assertEqual(r.returncode, 1)
            self.assertIn(b"(claude-sonnet-5-5).changes[0].from", r.stderr)


class BareBinary(unittest.TestCase):
    def test_no_flags_starts_on_the_embedded_table_and_prices(self):
        # No flags means the default ports (10429, 10430): run in a private network
        # namespace so nothing else on the machine is in the way.
        if shutil.which("unshare") is None or subprocess.run(["unshare", "-rn", "true"]).returncode != 0:
            self.skipTest("unshare -rn (user and network namespaces) is not available")
        script = r"""
set -e
ip link set lo up
cd "$TMPDIR_FOR_TEST"
"$EXPORTER_BINARY" >exporter.log 2>&1 &
pid=$!
for i in $(seq 100); do curl -sf http://127.0.0.1:10429/-/ready >/dev/null && break; sleep 0.1; done
curl -sf http://127.0.0.1:10429/-/ready
echo
curl -sf -X POST http://127.0.0.1:10430/v1/events -d '{"model":"claude-haiku-4-5","usage":{"input_tokens":1000000}}'
echo
sleep 0.3
# The first scrape shows the new label set at zero; with no flags it stays at zero for
# the default --web.zero-first-duration (30 s), then shows its value. Bounded at 60 s.
curl -sf http://127.0.0.1:10429/metrics >/dev/null
for i in $(seq 60); do
  sleep 1
  curl -sf http://127.0.0.1:10429/metrics >metrics.txt
  grep -q '^llm_cost_usd_total{.*cost_type="input".*model="claude-haiku-4-5".* [1-9]' metrics.txt && break
done
cat metrics.txt
kill -TERM $pid
wait $pid
"""
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, TMPDIR_FOR_TEST=d, EXPORTER_BINARY=BINARY)
            r = subprocess.run(["unshare", "-rn", "sh", "-c", script], capture_output=True, timeout=60, env=env)
            log = open(os.path.join(d, "exporter.log")).read() if os.path.exists(os.path.join(d, "exporter.log")) else ""
        self.assertEqual(r.returncode, 0, r.stderr.decode() + log)
        out = r.stdout.decode()
        self.assertIn('"accepted":1', out.replace(" ", ""))
        self.assertIn('llm_exporter_pricing_info{as_of="2026-12-01",file="",origin="embedded"', out)
        cost = [l for l in out.splitlines() if l.startswith("llm_cost_usd_total{") and 'cost_type="input"' in l
                and 'model="claude-haiku-4-5"' in l]
        self.assertEqual(len(cost), 1, out)
        self.assertAlmostEqual(float(cost[0].split()[-1]), 1.0, places=12)  # 1e6 tokens x $1/MTok


if __name__ == "__main__":
    unittest.main(verbosity=2)
