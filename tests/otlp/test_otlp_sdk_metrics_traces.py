"""OTLP metrics and traces ingest end to end: the real OpenTelemetry JavaScript SDK
(npm ci from the committed lock file; @opentelemetry/sdk-metrics with
exporter-metrics-otlp-http / -proto, @opentelemetry/sdk-trace-base with
exporter-trace-otlp-http / -proto) sends to the real exporter's --otlp.listen-address:
  - Claude Code shaped delta metrics (protobuf, gzip) with the first export re-sent:
    priced once from aggregates, no request counted;
  - cumulative metrics (JSON) from two SDK processes (the second one a client
    restart: a new start time): what each adds, counted once;
  - a session that sends both its api_request logs and its metrics: counted once;
  - GenAI token histograms (input/output) as an aggregate fallback;
  - GenAI spans (protobuf and JSON, every export re-sent) whose input includes
    cache tokens;
  - malformed bodies answered 400, naming why.
Costs are checked against an independent computation from this file's per-million
rates (its own price table)."""
import gzip
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from exporter_process import Exporter, total  # noqa: E402
from http_client import http  # noqa: E402
from npm_project import NpmError, npm_ci, run_node  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = os.environ["EXPORTER_BINARY"]
MODEL = "claude-otlp-test-5"
RATES = {"input": 3, "output": 15, "cache_read": 0.30, "cache_write_5m": 3.75, "cache_write_1h": 6}  # USD / MTok
PRICES = """as_of: "2026-12-01"
source: "tests/otlp"
models:
  - model: %s
    as_of: "2026-12-01"
    source: "tests/otlp"
    usd_per_mtok: {input: "3", cache_write_5m: "3.75", cache_write_1h: "6", cache_read: "0.30", output: "15"}
""" % MODEL
CONFIG = """otlp:
  labels:
    tenant: team.id
"""


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def usd(tokens):
    return sum(n * RATES[k] for k, n in tokens.items()) / 1e6


CC_TYPES = {"input": "input", "output": "output", "cacheRead": "cache_read", "cacheCreation": "cache_write_1h"}


def claude_code_step(session, tokens, cost):
    """One interval of Claude Code's counters: tokens by Claude Code type, and cost."""
    attrs = {"model": MODEL, "session.id": session, "user.id": "u-1", "query_source": "repl_main_thread"}
    step = [{"metric": "claude_code.token.usage", "kind": "counter", "unit": "tokens", "value": n,
             "attributes": dict(attrs, type=t)} for t, n in tokens.items()]
    step.append({"metric": "claude_code.cost.usage", "kind": "counter", "unit": "USD", "value": cost,
                 "attributes": attrs})
    return step


def cc_usd(tokens):
    return usd({CC_TYPES[t]: n for t, n in tokens.items()})


def send(script, spec, what):
    res = run_node(HERE, script, spec)
    if res.returncode != 0:
        fail("%s: SDK export failed: %s %s" % (what, res.stdout[-2000:], res.stderr[-2000:]))


def resource(team):
    return {"service.name": "claude-code", "service.version": "2.1.328", "team.id": team}


try:
    npm_ci(HERE)
except NpmError as e:
    fail(str(e))

with tempfile.TemporaryDirectory() as tmp:
    prices = os.path.join(tmp, "prices.yml")
    with open(prices, "w") as f:
        f.write(PRICES)
    # Aggregates wait 1 s (not 10) for the same client's logs: the test's logs are sent first.
    with Exporter(BINARY, prices, config_text=CONFIG, extra_args=["--otlp.aggregate-hold=1s"]) as ex:
        metrics_url, traces_url, logs_url = ex.otlp + "/v1/metrics", ex.otlp + "/v1/traces", ex.otlp + "/v1/logs"
        expected = {}  # tenant -> USD

        # 1. Delta (Claude Code's default), protobuf + gzip, the first export re-sent.
        d1 = {"input": 1247, "output": 389, "cacheRead": 20000, "cacheCreation": 3000}
        d2 = {"input": 52, "output": 17, "cacheRead": 0, "cacheCreation": 640}
        send("send_metrics.mjs", {"url": metrics_url, "protocol": "http/protobuf", "gzip": True,
                                  "temporality": "delta", "resource": resource("delta"), "resend": True,
                                  "steps": [claude_code_step("s-delta", d1, 0.09), claude_code_step("s-delta", d2, 0.01)]},
             "delta metrics")
        expected["delta"] = cc_usd(d1) + cc_usd(d2)

        # 2. Cumulative (JSON): two SDK processes, the second a restart (a new start time).
        c1 = {"input": 100, "output": 50, "cacheRead": 1000, "cacheCreation": 0}
        c2 = {"input": 30, "output": 10, "cacheRead": 0, "cacheCreation": 200}
        c3 = {"input": 7, "output": 3, "cacheRead": 0, "cacheCreation": 0}
        send("send_metrics.mjs", {"url": metrics_url, "protocol": "http/json", "temporality": "cumulative",
                                  "resource": resource("cumulative"),
                                  "steps": [claude_code_step("s-cum", c1, 0.001), claude_code_step("s-cum", c2, 0.002)]},
             "cumulative metrics")
        send("send_metrics.mjs", {"url": metrics_url, "protocol": "http/json", "temporality": "cumulative",
                                  "resource": resource("cumulative"), "steps": [claude_code_step("s-cum", c3, 0.001)]},
             "cumulative metrics after a restart")
        expected["cumulative"] = cc_usd(c1) + cc_usd(c2) + cc_usd(c3)

        # 3. Both logs and metrics from one session: the logs price it, the metrics are covered.
        log_attrs = {"event.name": "api_request", "model": MODEL, "input_tokens": 500, "output_tokens": 100,
                     "cache_read_tokens": 0, "cache_creation_tokens": 0, "cost_usd": 0.003,
                     "request_id": "req-both-1", "session.id": "s-both"}
        send("send_logs.mjs", {"url": logs_url, "protocol": "http/json", "resource": resource("both"),
                               "records": [{"body": "claude_code.api_request", "attributes": log_attrs}]}, "logs")
        send("send_metrics.mjs", {"url": metrics_url, "protocol": "http/protobuf", "temporality": "delta",
                                  "resource": resource("both"),
                                  "steps": [claude_code_step("s-both", {"input": 500, "output": 100}, 0.003)]},
             "metrics beside logs")
        expected["both"] = usd({"input": 500, "output": 100})

        # 4. GenAI token histograms (JSON): input/output only.
        genai = {"gen_ai.provider.name": "anthropic", "gen_ai.request.model": MODEL, "gen_ai.operation.name": "chat"}
        hist = [{"metric": "gen_ai.client.token.usage", "kind": "histogram", "unit": "{token}", "value": v,
                 "attributes": dict(genai, **{"gen_ai.token.type": t})}
                for t, v in (("input", 1200), ("input", 800), ("output", 300))]
        send("send_metrics.mjs", {"url": metrics_url, "protocol": "http/json", "temporality": "delta",
                                  "resource": {"service.name": "genai-hist-app", "team.id": "hist"},
                                  "steps": [hist]}, "GenAI histograms")
        expected["hist"] = usd({"input": 2000, "output": 300})

        # 5. GenAI spans, every export re-sent; input includes cache tokens.
        span_tokens = {"input": 3000, "cache_read": 20000, "cache_write_5m": 1000, "output": 389}
        for protocol in ("http/protobuf", "http/json"):
            team = "spans-" + protocol.split("/")[1]
            attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": MODEL,
                     "gen_ai.usage.input_tokens": 24000, "gen_ai.usage.cache_read.input_tokens": 20000,
                     "gen_ai.usage.cache_creation.input_tokens": 1000, "gen_ai.usage.output_tokens": 389}
            attrs["gen_ai.provider.name" if protocol == "http/protobuf" else "gen_ai.system"] = "anthropic"
            send("send_spans.mjs", {"url": traces_url, "protocol": protocol, "gzip": protocol == "http/protobuf",
                                    "resend": True, "resource": {"service.name": "genai-app", "team.id": team},
                                    "spans": [{"name": "chat " + MODEL, "attributes": attrs},
                                              {"name": "GET /health", "attributes": {"http.method": "GET"}}]},
                 "spans " + protocol)
            expected[team] = usd(span_tokens)

        # 6. Malformed bodies: 400, not retryable, nothing counted.
        for body, ctype, enc in ((b"{not json", "application/json", None), (b"\x0a\xff\xff", "application/x-protobuf", None),
                                 (gzip.compress(b"[1]"), "application/json", "gzip"), (b"not gzip", "application/json", "gzip")):
            headers = {"Content-Type": ctype}
            if enc:
                headers["Content-Encoding"] = enc
            for url in (metrics_url, traces_url):
                status, answer = http("POST", url, body, headers)
                if status != 400:
                    fail("malformed body to %s: status %s, expected 400 (%r)" % (url, status, answer[:200]))

        def done(s):
            return all(abs(total(s, "llm_cost_usd_total", tenant=t) - want) < 1e-9 for t, want in expected.items())
        s = ex.settle(done, timeout=15)
        for team, want in expected.items():
            got = total(s, "llm_cost_usd_total", tenant=team, model=MODEL)
            if abs(got - want) > 1e-9:
                fail("%s: llm_cost_usd_total %.12f, expected %.12f; log: %s" % (team, got, want, ex.read_log()[-1500:]))
        for team in ("delta", "cumulative", "hist"):
            if total(s, "llm_requests_total", tenant=team) != 0:
                fail("%s: aggregates counted as requests" % team)
        for team in ("both", "spans-protobuf", "spans-json"):
            if total(s, "llm_requests_total", tenant=team) != 1:
                fail("%s: requests %s, expected 1" % (team, total(s, "llm_requests_total", tenant=team)))
        got = total(s, "llm_client_reported_cost_usd_total", tenant="delta")
        if abs(got - 0.10) > 1e-9:
            fail("delta: client-reported cost %.12f, expected 0.10" % got)
        checks = [("llm_exporter_otlp_ignored_total", {"signal": "metrics", "reason": "duplicate"}, lambda v: v >= 5),
                  ("llm_exporter_otlp_ignored_total", {"signal": "metrics", "reason": "covered"}, lambda v: v == 3),
                  ("llm_exporter_otlp_ignored_total", {"signal": "traces", "reason": "not_usage"}, lambda v: v >= 2),
                  ("llm_exporter_otlp_rejected_total", {"signal": "traces", "reason": "duplicate"}, lambda v: v == 2),
                  ("llm_exporter_otlp_rejected_total", {"signal": "metrics", "reason": "malformed_json"}, lambda v: v == 2),
                  ("llm_exporter_otlp_streams", {}, lambda v: v > 0),
                  ("llm_exporter_otlp_source_last_seen_timestamp_seconds",
                   {"service_name": "claude-code", "service_version": "2.1.328"}, lambda v: v > 1.7e9)]
        for name, labels, ok in checks:
            got = total(s, name, **labels)
            if not ok(got):
                fail("%s%s = %s" % (name, labels, got))
        text = ex.scrape_text()
        for secret in ("s-delta", "s-both", "u-1"):
            if secret in text:
                fail("%r leaked into /metrics" % secret)
        print("ok: %s" % ", ".join("%s %.6f USD" % kv for kv in sorted(expected.items())))
