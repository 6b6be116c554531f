"""Integration test: the real llm-cost-exporter binary on free loopback ports.

Events go in over HTTP and UDP; /metrics is scraped and parsed; every expected
value is computed here from the per-million rates in pricing-facts.md, not read
from the exporter. The scrape must pass `promtool check metrics` with no complaint.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from exporter_process import Exporter, total, value  # noqa: E402
from http_client import http  # noqa: E402

SOURCE_DIR = os.environ["SOURCE_DIR"]
BINARY = os.environ["EXPORTER_BINARY"]
PRICES = os.path.join(SOURCE_DIR, "exporter", "pricing", "prices.yml")

# USD per million tokens, from shared/design/pricing-facts.md.
RATES = {
    "claude-sonnet-4-5": dict(input=3, output=15, cache_read=0.30, cache_write_5m=3.75, cache_write_1h=6),
    "claude-haiku-4-5": dict(input=1, output=5, cache_read=0.10, cache_write_5m=1.25, cache_write_1h=2),
    "claude-opus-4-6": dict(input=5, output=25, cache_read=0.50, cache_write_5m=6.25, cache_write_1h=10),
}

CONFIG = """
labels:
  attribution: [feature, tenant, route]
  max_values_per_label: 50
  max_values: {route: 3}
budgets:
  - {scope: global, period: month, usd: 5000}
  - {scope: "feature:chat", period: day, usd: 40}
"""

BASE = {"provider": "anthropic", "route": "unknown"}


def cost(model, **tokens):
    return sum(n * RATES[model][t] / 1e6 for t, n in tokens.items())


class ExporterIntegrationTest(unittest.TestCase):
    def setUp(self):
        self.exporter = Exporter(BINARY, PRICES, CONFIG, ["--ingest.max-body-bytes=65536"]).start()
        self.addCleanup(self.exporter.close)

    def labels(self, model, feature="unknown", tenant="unknown", route="unknown", platform="anthropic",
               service_tier="standard"):
        return dict(provider="anthropic", model=model, feature=feature, tenant=tenant, route=route,
                    platform=platform, service_tier=service_tier)

    def test_http_and_udp_events_are_priced_exactly(self):
        e = self.exporter
        usage = {"input_tokens": 1247, "output_tokens": 612, "cache_read_input_tokens": 28430,
                 "cache_creation_input_tokens": 3000,
                 "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
                 "server_tool_use": {"web_search_requests": 2}, "service_tier": "standard"}
        one = {"model": "claude-sonnet-4-5-20250929", "usage": usage, "latency_ms": 2300, "ttft_ms": 420,
               "status": 200, "labels": {"feature": "chat", "tenant": "acme", "route": "/api/chat"}}
        status, body = e.post(json.dumps(one))
        self.assertEqual(status, 202, body)
        self.assertEqual(body, {"accepted": 1, "rejected": 0, "errors": []})

        # JSON array over HTTP: a Bedrock id and a Vertex id of the same model, one batch request.
        arr = [{"model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "usage": {"input_tokens": 1000, "output_tokens": 100},
                "labels": {"feature": "chat", "tenant": "acme", "route": "/api/chat"}},
               {"model": "claude-sonnet-4-5@20250929", "usage": {"input_tokens": 2000, "output_tokens": 0},
                "batch": True, "labels": {"feature": "chat", "tenant": "acme", "route": "/api/chat"}}]
        status, body = e.post(json.dumps(arr))
        self.assertEqual((status, body["accepted"]), (202, 2), body)

        # NDJSON over UDP, flat wrapper fields, and a rate-limited call with no usage.
        e.send_udp(json.dumps({"model_id": "claude-haiku-4-5-20251001", "input_tokens": 500, "output_tokens": 50,
                               "cache_read_input_tokens": 4000, "feature": "search", "tenant_id": 42}) + "\n" +
                   json.dumps({"model": "claude-haiku-4-5", "status": 429, "error_type": "rate_limit_error",
                               "feature": "search", "tenant_id": 42, "latency_ms": 150}))
        # One datagram, one event; opus with 1h writes.
        e.send_udp(json.dumps({"model": "claude-opus-4-6", "usage": {"input_tokens": 10, "output_tokens": 20,
                               "cache_creation": {"ephemeral_1h_input_tokens": 30}}, "feature": "agent"}))

        # chat spans three platform/tier label sets (first-party, Bedrock, Google Cloud batch): summed.
        chat = self.labels("claude-sonnet-4-5", "chat", "acme", "/api/chat")
        del chat["platform"], chat["service_tier"]
        search = self.labels("claude-haiku-4-5", "search", "42")
        agent = self.labels("claude-opus-4-6", "agent")
        s = e.settle(lambda s: total(s, "llm_requests_total", **chat, status="ok") == 3 and
                     value(s, "llm_requests_total", **search, status="rate_limited") == 1 and
                     value(s, "llm_requests_total", **agent, status="ok") == 1)
        self.assertEqual(total(s, "llm_requests_total", **chat, status="ok"), 3)
        # The platform comes from the id (Bedrock profile, Vertex @date); the tier from the event.
        for platform, tier in (("anthropic", "standard"), ("bedrock", "standard"), ("vertex", "batch")):
            self.assertEqual(value(s, "llm_requests_total", **chat, platform=platform, service_tier=tier, status="ok"),
                             1, (platform, tier))
        self.assertAlmostEqual(value(s, "llm_cost_usd_total", **chat, platform="vertex", service_tier="batch",
                                     cost_type="input"), cost("claude-sonnet-4-5", input=2000) / 2, places=12)
        self.assertEqual(value(s, "llm_requests_total", **search, status="ok"), 1)
        self.assertEqual(value(s, "llm_requests_total", **search, status="rate_limited"), 1)

        # Tokens: input is never reduced by cache tokens.
        self.assertEqual(total(s, "llm_tokens_total", **chat, token_type="input"), 1247 + 1000 + 2000)
        self.assertEqual(total(s, "llm_tokens_total", **chat, token_type="cache_read"), 28430)
        self.assertEqual(total(s, "llm_tokens_total", **chat, token_type="cache_write_5m"), 1000)
        self.assertEqual(total(s, "llm_tokens_total", **chat, token_type="cache_write_1h"), 2000)
        self.assertEqual(value(s, "llm_tokens_total", **agent, token_type="cache_write_1h"), 30)

        # Cost by type, computed from the per-million rates.
        # The us. Bedrock profile is a regional endpoint: +10% for the 4.5 generation on.
        expect_input = (cost("claude-sonnet-4-5", input=1247) + 1.1 * cost("claude-sonnet-4-5", input=1000) +
                        cost("claude-sonnet-4-5", input=2000) / 2)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total", **chat, cost_type="input"), expect_input, places=12)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total", **chat, cost_type="output"),
                               cost("claude-sonnet-4-5", output=612) + 1.1 * cost("claude-sonnet-4-5", output=100),
                               places=12)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total", **chat, cost_type="cache_read"),
                               cost("claude-sonnet-4-5", cache_read=28430), places=12)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total", **chat, cost_type="cache_write_1h"),
                               cost("claude-sonnet-4-5", cache_write_1h=2000), places=12)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total", **chat, cost_type="web_search"), 2 * 10 / 1000, places=12)
        haiku = cost("claude-haiku-4-5", input=500, output=50, cache_read=4000)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total", **search), haiku, places=12)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total", **agent),
                               cost("claude-opus-4-6", input=10, output=20, cache_write_1h=30), places=12)
        self.assertAlmostEqual(value(s, "llm_cache_savings_usd_total", **search), 4000 * (1 - 0.10) / 1e6, places=12)
        self.assertAlmostEqual(total(s, "llm_cache_write_premium_usd_total", **chat),
                               (1000 * (3.75 - 3) + 2000 * (6 - 3)) / 1e6, places=12)

        # Histograms: one attribution label (feature), latency in seconds.
        hist = dict(provider="anthropic", model="claude-sonnet-4-5", feature="chat")
        self.assertEqual(value(s, "llm_request_duration_seconds_count", **hist), 1)
        self.assertAlmostEqual(value(s, "llm_request_duration_seconds_sum", **hist), 2.3)
        self.assertEqual(value(s, "llm_time_to_first_token_seconds_bucket", **hist, le="0.5"), 1)
        self.assertEqual(value(s, "llm_request_input_tokens_count", **hist), 3)
        self.assertEqual(value(s, "llm_request_cost_usd_count", **hist), 3)
        self.assertEqual(value(s, "llm_request_duration_seconds_count",
                               provider="anthropic", model="claude-haiku-4-5", feature="search"), 1)  # the 429
        self.assertEqual(value(s, "llm_request_cost_usd_count",
                               provider="anthropic", model="claude-haiku-4-5", feature="search"), 1)  # not the 429

        self.assertEqual(value(s, "llm_exporter_events_total", transport="http", result="accepted"), 3)
        self.assertEqual(value(s, "llm_exporter_events_total", transport="udp", result="accepted"), 3)
        self.assertEqual(value(s, "llm_budget_usd", scope="feature:chat", period="day"), 40)
        self.assertEqual(value(s, "llm_budget_usd", scope="global", period="month"), 5000)
        self.assertEqual(value(s, "llm_exporter_pricing_last_reload_successful"), 1)
        self.assertEqual(value(s, "llm_exporter_build_info", version="0.1.0",
                               revision=dict(k for (n, ls) in s if n == "llm_exporter_build_info" for k in ls)["revision"]), 1)
        # No raw id ever becomes a label value.
        for (name, labels) in s:
            for k, v in labels:
                self.assertNotIn("20250929", v, (name, labels))
                self.assertNotIn("anthropic.", v, (name, labels))

    def test_bad_input_changes_only_rejection_counters(self):
        e = self.exporter
        before = e.settle()
        bad_bodies = [
            ("", "empty"),
            ("{\"model\":", "malformed_json"),
            ("{\"model\": \"m\", \"latency_ms\": NaN}", "malformed_json"),
            ("[1]", "not_object"),
            ("{\"usage\": {\"input_tokens\": 5}}", "missing_model"),
            ("{\"model\": \"claude-haiku-4-5\", \"usage\": {\"input_tokens\": -5}}", "bad_field"),
            ("{\"model\": \"claude-haiku-4-5\", \"usage\": {\"output_tokens\": 2000000000}}", "bad_field"),
            ("{\"model\": \"claude-haiku-4-5\", \"labels\": {\"tenant\": [1]}}", "bad_field"),
        ]
        for body, reason in bad_bodies:
            status, resp = e.post(body)
            self.assertEqual(status, 400, (body, resp))
            self.assertEqual(resp["accepted"], 0)
            self.assertEqual(resp["errors"][0]["reason"], reason, (body, resp))
        status, resp = e.post("{\"model\": \"claude-haiku-4-5\", \"usage\": {\"input_tokens\": 1.5}}")
        self.assertEqual(resp["errors"][0]["field"], "usage.input_tokens")
        # Oversized body: 413, counted.
        big = json.dumps([{"model": "claude-haiku-4-5", "usage": {"input_tokens": 1}}] * 2000)
        self.assertGreater(len(big), 65536)
        status, resp = e.post(big)
        self.assertEqual(status, 413)
        self.assertEqual(resp["errors"][0]["reason"], "too_large")
        # UDP: truncated and garbage datagrams.
        e.send_udp("{\"model\": \"claude-haiku-4-5\", \"usage\": {\"input_tok")
        e.send_udp(b"\xff\xfe\x00garbage")
        after = e.settle(lambda s: total(s, "llm_exporter_events_rejected_total", transport="udp") == 2)

        expected = {"empty": 1, "malformed_json": 2, "not_object": 1, "missing_model": 1, "bad_field": 4, "too_large": 1}
        for reason, n in expected.items():
            self.assertEqual(value(after, "llm_exporter_events_rejected_total", transport="http", reason=reason), n, reason)
        self.assertEqual(value(after, "llm_exporter_events_rejected_total", transport="udp", reason="malformed_json"), 2)
        self.assertEqual(value(after, "llm_exporter_events_total", transport="http", result="rejected"), 10)
        # Nothing else moved: no request-level series at all, no accepted events.
        for (name, labels), v in after.items():
            if name.startswith("llm_exporter_events") or name.startswith("process_") or name == "llm_exporter_label_sets":
                continue
            self.assertEqual(v, before.get((name, labels)), name)
        self.assertEqual(total(after, "llm_requests_total"), 0)

    def test_batch_keeps_valid_events_and_reports_indexes(self):
        body = "\n".join([
            json.dumps({"model": "claude-haiku-4-5", "usage": {"input_tokens": 100}, "feature": "a"}),
            "{not json",
            json.dumps({"model": "claude-haiku-4-5", "usage": {"input_tokens": "100"}}),
            json.dumps({"model": "claude-haiku-4-5", "usage": {"input_tokens": 200}, "feature": "a"}),
        ])
        status, resp = self.exporter.post(body)
        self.assertEqual(status, 202)
        self.assertEqual((resp["accepted"], resp["rejected"]), (2, 2))
        self.assertEqual([(x["index"], x["reason"], x["field"]) for x in resp["errors"]],
                         [(1, "malformed_json", ""), (2, "bad_field", "usage.input_tokens")])
        s = self.exporter.settle(lambda s: total(s, "llm_tokens_total", token_type="input") == 300)
        self.assertEqual(total(s, "llm_tokens_total", token_type="input"), 300)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total"), 300 * 1 / 1e6, places=12)

    def test_unknown_model_is_counted_not_priced_and_client_cost_wins(self):
        e = self.exporter
        e.post(json.dumps({"model": "claude-9-mystery-20300101", "usage": {"input_tokens": 1000, "output_tokens": 10}}))
        e.post(json.dumps({"model": "claude-opus-4-6", "usage": {"input_tokens": 1000}, "cost_usd": 0.125,
                           "feature": "negotiated"}))
        e.post(json.dumps({"model": "claude-sonnet-4-5", "usage": {"input_tokens": 1000, "service_tier": "priority"}}))
        s = e.settle(lambda s: total(s, "llm_requests_total") == 3)
        self.assertEqual(value(s, "llm_unpriced_requests_total", provider="anthropic", model="claude-9-mystery",
                               reason="unknown_model"), 1)
        self.assertEqual(value(s, "llm_unpriced_requests_total", provider="anthropic", model="claude-sonnet-4-5",
                               reason="no_tier_price"), 1)
        self.assertEqual(total(s, "llm_cost_usd_total", model="claude-9-mystery"), 0)
        self.assertEqual(total(s, "llm_cost_usd_total", model="claude-sonnet-4-5"), 0)
        self.assertEqual(total(s, "llm_tokens_total", model="claude-9-mystery", token_type="input"), 1000)
        self.assertEqual(value(s, "llm_cost_usd_total", **self.labels("claude-opus-4-6", "negotiated"),
                               cost_type="client_reported"), 0.125)
        self.assertEqual(total(s, "llm_cost_usd_total", model="claude-opus-4-6"), 0.125)
        self.assertIn("model=claude-9-mystery", e.read_log())

    def test_label_overflow_and_sanitising(self):
        e = self.exporter
        events = [{"model": "claude-haiku-4-5", "route": "/r%d" % i} for i in range(6)]
        events.append({"model": "claude-haiku-4-5", "tenant": "bad\u0001value" + "x" * 200})
        e.post(json.dumps(events))
        s = e.settle(lambda s: total(s, "llm_requests_total") == 7)
        routes = {dict(ls)["route"] for (n, ls) in s if n == "llm_requests_total"}
        self.assertEqual(routes, {"/r0", "/r1", "/r2", "__overflow__"})  # cap of 3 routes
        self.assertEqual(value(s, "llm_exporter_label_overflow_total", label="route"), 4)
        tenants = {dict(ls)["tenant"] for (n, ls) in s if n == "llm_requests_total"}
        self.assertIn("bad_value" + "x" * 55, tenants)  # control char replaced, cut at 64 bytes

    def test_scrape_passes_promtool_check_metrics(self):
        e = self.exporter
        e.post(json.dumps({"model": "claude-haiku-4-5", "usage": {"input_tokens": 10}, "latency_ms": 5,
                           "labels": {"feature": "x \"quoted\" \\ value"}}))
        e.settle(lambda s: total(s, "llm_requests_total") == 1)
        text = e.scrape_text()
        r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), b"", "promtool complained")
        for name in ["llm_requests_total", "llm_tokens_total", "llm_cost_usd_total", "llm_cache_savings_usd_total",
                     "llm_cache_write_premium_usd_total", "llm_unpriced_requests_total", "llm_request_duration_seconds",
                     "llm_time_to_first_token_seconds", "llm_request_input_tokens", "llm_request_output_tokens",
                     "llm_request_cost_usd", "llm_budget_usd", "llm_exporter_build_info", "llm_exporter_events_total",
                     "llm_exporter_events_rejected_total", "llm_exporter_label_overflow_total",
                     "llm_exporter_pricing_info", "process_resident_memory_bytes"]:
            self.assertIn("# TYPE %s " % name, text)

    def test_endpoints(self):
        e = self.exporter
        status, body = http("GET", e.web + "/")
        self.assertEqual(status, 200)
        self.assertIn(b'href="/metrics"', body)
        self.assertEqual(http("GET", e.web + "/-/healthy")[0], 200)
        self.assertEqual(http("GET", e.web + "/-/ready")[0], 200)
        self.assertEqual(http("POST", e.web + "/-/reload")[0], 403)  # lifecycle API off by default
        self.assertEqual(http("GET", e.ingest + "/nope")[0], 404)
        r = subprocess.run([BINARY, "--version"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"llm-cost-exporter, version 0.1.0", r.stdout)
        r = subprocess.run([BINARY, "--no-such-flag"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"unknown flag --no-such-flag", r.stderr)

    def test_sigterm_stops_cleanly(self):
        self.assertEqual(self.exporter.stop(signal.SIGTERM), 0)
        self.assertIn("stopped", self.exporter.read_log())


class ZeroFirstTest(unittest.TestCase):
    """Issue 13 item 7: the zero-first sample is served for a fixed time from the
    first GET of /metrics, so a HEAD (health check) or the first Prometheus of an HA
    pair cannot take it from the other; events are all counted after the time."""

    def test_head_then_gets_within_and_after_the_time(self):
        e = Exporter(BINARY, PRICES, CONFIG, ["--web.zero-first-duration=3s"]).start()
        self.addCleanup(e.close)
        ev = {"model": "claude-haiku-4-5", "usage": {"input_tokens": 1000, "output_tokens": 10},
              "labels": {"feature": "chat", "tenant": "new-tenant"}}
        self.assertEqual(e.post(json.dumps(ev))[0], 202)
        labels = dict(provider="anthropic", model="claude-haiku-4-5", feature="chat", tenant="new-tenant",
                      route="unknown", platform="anthropic", service_tier="standard", status="ok")
        status, _ = http("HEAD", e.web + "/metrics")
        self.assertEqual(status, 200)
        t0 = time.monotonic()
        self.assertEqual(value(e.scrape(), "llm_requests_total", **labels), 0)  # the first GET after the HEAD
        self.assertEqual(e.post(json.dumps(ev))[0], 202)
        second = value(e.scrape(), "llm_requests_total", **labels)  # the HA pair's other scraper
        if time.monotonic() - t0 < 2.5:  # a very slow machine may be past the time already
            self.assertEqual(second, 0)
        time.sleep(max(0.0, 3.2 - (time.monotonic() - t0)))
        s = e.scrape()
        self.assertEqual(value(s, "llm_requests_total", **labels), 2)
        self.assertAlmostEqual(value(s, "llm_cost_usd_total", cost_type="input", **{k: v for k, v in labels.items() if k != "status"}),
                               2 * cost("claude-haiku-4-5", input=1000), places=12)
        self.assertEqual(e.post(json.dumps(ev))[0], 202)  # after the time: counted at once
        self.assertEqual(value(e.scrape(), "llm_requests_total", **labels), 3)


class PriceReloadTest(unittest.TestCase):
    def test_bad_reload_keeps_old_table_and_good_reload_swaps(self):
        tmp = self.enterContext_tmp()
        prices = os.path.join(tmp, "prices.yml")
        shutil.copy(PRICES, prices)
        e = Exporter(BINARY, prices, None, ["--web.enable-lifecycle"]).start()
        self.addCleanup(e.close)
        ev = json.dumps({"model": "claude-haiku-4-5", "usage": {"input_tokens": 1000000}})
        e.post(ev)
        e.settle(lambda s: total(s, "llm_requests_total") == 1)

        with open(prices, "w") as f:
            f.write("models: [this is not a price table\n")
        e.proc.send_signal(signal.SIGHUP)
        s = e.settle(lambda s: value(s, "llm_exporter_pricing_reloads_total", result="failure") == 1)
        self.assertEqual(value(s, "llm_exporter_pricing_reloads_total", result="failure"), 1)
        self.assertEqual(value(s, "llm_exporter_pricing_last_reload_successful"), 0)
        e.post(ev)  # still priced with the old table: $1 per MTok
        s = e.settle(lambda s: total(s, "llm_requests_total") == 2)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total"), 2.0, places=9)
        self.assertIn("price table reload failed", e.read_log())

        with open(PRICES) as f:
            text = f.read()
        with open(prices, "w") as f:
            f.write(text.replace('usd_per_mtok: {input: "1", cache_write_5m: "1.25"',
                                 'usd_per_mtok: {input: "2", cache_write_5m: "1.25"', 1))
        status, body = http("POST", e.web + "/-/reload")
        self.assertEqual(status, 200, body)
        e.post(ev)
        s = e.settle(lambda s: total(s, "llm_requests_total") == 3)
        self.assertAlmostEqual(total(s, "llm_cost_usd_total"), 4.0, places=9)
        self.assertEqual(value(s, "llm_exporter_pricing_last_reload_successful"), 1)
        self.assertEqual(value(s, "llm_exporter_pricing_reloads_total", result="success"), 2)

    def test_sighup_and_http_reload_at_once(self):
        # Issue 13 item 9: a data race on the pricing_info series between the signal
        # thread (SIGHUP) and an HTTP worker (POST /-/reload). Both paths at once, with
        # scrapes: one pricing_info series, every reload a success, a clean exit.
        # scripts/test-sanitizers runs this against the ThreadSanitizer build too.
        import threading
        e = Exporter(BINARY, PRICES, None, ["--web.enable-lifecycle"]).start()
        self.addCleanup(e.close)
        posts, errors = 25, []

        def sighups():
            for _ in range(posts):
                e.proc.send_signal(signal.SIGHUP)
                time.sleep(0.005)

        def http_reloads():
            for _ in range(posts):
                status, body = http("POST", e.web + "/-/reload", timeout=30)
                if status != 200:
                    errors.append((status, body))

        def scrapes():
            for _ in range(posts):
                e.scrape_text()

        ev = json.dumps({"model": "claude-haiku-4-5", "usage": {"input_tokens": 1000}})

        def ingest():  # events are priced with the table in force while it is swapped
            for _ in range(posts):
                if e.post(ev)[0] != 202:
                    errors.append("ingest")
                e.send_udp(ev)

        threads = [threading.Thread(target=f) for f in (sighups, http_reloads, scrapes, ingest)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(errors, [])
        time.sleep(0.3)  # the last SIGHUP's reload
        s = e.scrape()
        infos = [ls for (name, ls) in s if name == "llm_exporter_pricing_info"]
        self.assertEqual(len(infos), 1, infos)
        self.assertGreaterEqual(value(s, "llm_exporter_pricing_reloads_total", result="success"), 1 + posts + 1)
        self.assertEqual(value(s, "llm_exporter_pricing_reloads_total", result="failure"), 0)
        self.assertEqual(value(s, "llm_exporter_events_total", transport="http", result="accepted"), posts)
        self.assertEqual(e.stop(signal.SIGTERM), 0)

    def enterContext_tmp(self):
        import tempfile
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        return d.name

    def test_unreadable_price_file_refuses_to_start_with_reason(self):
        r = subprocess.run([BINARY, "--pricing.file=/nonexistent.yml", "--web.listen-address=127.0.0.1:0",
                            "--ingest.listen-address=", "--udp.listen-address="], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"--pricing.file: /nonexistent.yml: cannot open: No such file or directory", r.stderr)

    def test_start_up_file_errors_name_the_flag_and_the_reason(self):
        off = ["--web.listen-address=127.0.0.1:0", "--ingest.listen-address=", "--udp.listen-address="]
        for flag in ("--config.file", "--web.config.file", "--web.ingest-token-file"):
            r = subprocess.run([BINARY, flag + "=/nonexistent.yml"] + off, capture_output=True, timeout=10)
            self.assertEqual(r.returncode, 1, flag)
            self.assertIn(flag.encode(), r.stderr)
            self.assertIn(b"/nonexistent.yml", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
