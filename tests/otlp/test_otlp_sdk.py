"""OTLP logs ingest end to end: the real OpenTelemetry JavaScript SDK (npm ci from
the committed lock file; @opentelemetry/sdk-logs with exporter-logs-otlp-http and
exporter-logs-otlp-proto, gzip on the protobuf run) sends Claude Code shaped
`claude_code.api_request` records to the real exporter's --otlp.listen-address.
Costs are checked against an independent computation from this file's per-million
rates (its own price table); Claude Code's cost_usd lands in its own counter, never
in llm_cost_usd_total; a re-sent record (same request_id) counts once; non-usage
records are ignored; a record without a model is refused by reason; labels come
only from the configured mapping (no session.id / user.* label)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from exporter_process import Exporter, total  # noqa: E402
from npm_project import NpmError, npm_ci  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = os.environ["EXPORTER_BINARY"]

RATES = {"input": 3, "output": 15, "cache_read": 0.30, "cache_write_5m": 3.75, "cache_write_1h": 6}  # USD / MTok
PRICES = """as_of: "2026-12-01"
source: "tests/otlp"
models:
  - model: claude-otlp-test-5
    as_of: "2026-12-01"
    source: "tests/otlp"
    usd_per_mtok: {input: "3", cache_write_5m: "3.75", cache_write_1h: "6", cache_read: "0.30", output: "15"}
"""
CONFIG = """otlp:
  labels:
    tenant: team.id
    feature: query_source
"""


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def api_request(request_id, input_tokens, output_tokens, cache_read, cache_creation, split=None, cost_usd=0.0):
    attrs = {"event.name": "api_request", "model": "claude-otlp-test-5", "input_tokens": input_tokens,
             "output_tokens": output_tokens, "cache_read_tokens": cache_read, "cache_creation_tokens": cache_creation,
             "cost_usd": cost_usd, "duration_ms": 1834, "request_id": request_id, "speed": "normal",
             "anthropic.provider": "firstParty", "session.id": "sess-" + request_id, "user.email": "dev@example.com",
             "user.id": "u-1", "prompt.id": "p-1", "query_source": "repl_main_thread", "unmapped.attr": "x"}
    if split:
        attrs["cache_creation_5m_tokens"], attrs["cache_creation_1h_tokens"] = split
    return {"body": "claude_code.api_request", "attributes": attrs}


def usd(tokens):
    return sum(tokens[k] * RATES[k] for k in tokens) / 1e6


try:
    npm_ci(HERE)
except NpmError as e:
    fail(str(e))

with tempfile.TemporaryDirectory() as tmp:
    prices = os.path.join(tmp, "prices.yml")
    with open(prices, "w") as f:
        f.write(PRICES)
    with Exporter(BINARY, prices, config_text=CONFIG) as ex:
        runs = {"http/json": False, "http/protobuf": True}  # protocol -> gzip
        expected = {}
        for protocol, gzip in runs.items():
            team = "team-" + protocol.split("/")[1]
            a = api_request(team + "-a", 1247, 389, 20000, 3000, split=(1000, 2000), cost_usd=0.0912)
            b = api_request(team + "-b", 52, 17, 0, 640, cost_usd=0.0041)  # no split: 1-hour writes
            b_again = json.loads(json.dumps(b))  # the same request re-sent
            no_model = api_request(team + "-c", 1, 1, 0, 0)
            del no_model["attributes"]["model"]
            prompt = {"body": "claude_code.user_prompt", "attributes": {"event.name": "user_prompt",
                                                                       "prompt_length": 42}}
            spec = {"url": ex.otlp + "/v1/logs", "protocol": protocol, "gzip": gzip,
                    "resource": {"service.name": "claude-code", "service.version": "2.1.0", "team.id": team},
                    "records": [a, b, prompt, no_model, b_again]}
            res = subprocess.run(["node", os.path.join(HERE, "send_logs.mjs")], input=json.dumps(spec), cwd=HERE,
                                 capture_output=True, text=True, timeout=60)
            if res.returncode != 0:
                fail("%s: SDK export failed: %s %s" % (protocol, res.stdout[-2000:], res.stderr[-2000:]))
            tokens_a = {"input": 1247, "output": 389, "cache_read": 20000, "cache_write_5m": 1000,
                        "cache_write_1h": 2000}
            tokens_b = {"input": 52, "output": 17, "cache_read": 0, "cache_write_5m": 0, "cache_write_1h": 640}
            expected[team] = (usd(tokens_a) + usd(tokens_b), 0.0912 + 0.0041, tokens_a, tokens_b)

        def done(s):
            return total(s, "llm_exporter_otlp_records_total", result="ignored") >= 2 and all(
                total(s, "llm_requests_total", tenant=t) >= 2 for t in expected)
        s = ex.settle(done, timeout=10)
        for team, (cost, reported, ta, tb) in expected.items():
            got = total(s, "llm_cost_usd_total", tenant=team, feature="repl_main_thread", model="claude-otlp-test-5")
            if abs(got - cost) > 1e-9:
                fail("%s: llm_cost_usd_total %.12f, expected %.12f" % (team, got, cost))
            if total(s, "llm_cost_usd_total", tenant=team, cost_type="client_reported") != 0:
                fail("%s: Claude Code's cost_usd was added to llm_cost_usd_total" % team)
            got = total(s, "llm_client_reported_cost_usd_total", tenant=team)
            if abs(got - reported) > 1e-9:
                fail("%s: llm_client_reported_cost_usd_total %.12f, expected %.12f" % (team, got, reported))
            if total(s, "llm_requests_total", tenant=team) != 2:
                fail("%s: requests %s, expected 2 (the re-sent one counted once)"
                     % (team, total(s, "llm_requests_total", tenant=team)))
            for kind in ta:
                got = total(s, "llm_tokens_total", tenant=team, token_type=kind)
                if got != ta[kind] + tb[kind]:
                    fail("%s: %s tokens %s, expected %s" % (team, kind, got, ta[kind] + tb[kind]))
        checks = [("llm_exporter_events_rejected_total", {"transport": "otlp", "reason": "missing_model"}, 2),
                  ("llm_exporter_events_rejected_total", {"transport": "otlp", "reason": "duplicate"}, 2),
                  ("llm_exporter_otlp_records_total", {"signal": "logs", "result": "accepted"}, 4),
                  ("llm_exporter_otlp_records_total", {"signal": "logs", "result": "ignored"}, 2)]
        for name, labels, want in checks:
            got = total(s, name, **labels)
            if got != want:
                fail("%s%s = %s, expected %s" % (name, labels, got, want))
        text = ex.scrape_text()
        for secret in ("sess-", "dev@example.com", "u-1", "p-1", "unmapped"):
            if secret in text:
                fail("%r became visible on /metrics" % secret)
print("ok: OpenTelemetry JS SDK (http/json and http/protobuf+gzip) -> OTLP logs -> priced exactly")
