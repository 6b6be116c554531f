"""The real Claude Code CLI (npm @anthropic-ai/claude-code, pinned in this folder's
lock file; npm ci) in print mode (`claude -p`) against the fake Messages API
(tests/lib/fake_messages_api.py), with its telemetry pointed at the real exporter's
OTLP receiver, once with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf and once with
http/json. The exporter's cost must equal the one computed here from the fake
response's usage and this file's per-million rates (its own price table): the
response gives no 5m/1h split, so the 400 cache-write tokens are Claude Code's
1-hour writes. Claude Code's own cost_usd lands in llm_client_reported_cost_usd_total
only. Offline: nothing leaves 127.0.0.1."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import fake_messages_api as api  # noqa: E402
from exporter_process import Exporter, total  # noqa: E402
from npm_project import NpmError, npm_ci  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = os.environ["EXPORTER_BINARY"]
RATES = {"input": 3, "output": 15, "cache_read": 0.30, "cache_write_5m": 3.75, "cache_write_1h": 6}  # USD / MTok
PRICES = """as_of: "2026-12-01"
source: "tests/claude_code"
models:
  - model: %s
    as_of: "2026-12-01"
    source: "tests/claude_code"
    usd_per_mtok: {input: "3", cache_write_5m: "3.75", cache_write_1h: "6", cache_read: "0.30", output: "15"}
""" % api.MODEL


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


# The streamed answer: message_start's input usage, then the last cumulative output.
TOKENS = {"input": api.START_USAGE["input_tokens"], "output": api.DELTA_OUTPUTS[-1],
          "cache_read": api.START_USAGE["cache_read_input_tokens"], "cache_write_5m": 0,
          "cache_write_1h": api.START_USAGE["cache_creation_input_tokens"]}
EXPECTED_USD = sum(TOKENS[k] * RATES[k] for k in TOKENS) / 1e6

try:
    bin_dir = npm_ci(HERE)
except NpmError as e:
    fail(str(e))
claude = os.path.join(bin_dir, "claude")
version = subprocess.run([claude, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()

with tempfile.TemporaryDirectory() as tmp:
    prices = os.path.join(tmp, "prices.yml")
    with open(prices, "w") as f:
        f.write(PRICES)
    # (protocol, logs exporter, metrics exporter): logs only; logs AND metrics (the
    # metrics must not count the same request again); metrics only (the fallback,
    # priced from aggregates: no request counted).
    runs = (("http/protobuf", "otlp", "none"), ("http/json", "otlp", "otlp"), ("http/protobuf", "none", "otlp"))
    for protocol, logs_exporter, metrics_exporter in runs:
        from_metrics = logs_exporter == "none"
        what = "%s logs=%s metrics=%s" % (protocol, logs_exporter, metrics_exporter)
        home = tempfile.mkdtemp(dir=tmp)  # no user config of this machine
        # Aggregates wait 3 s (default 10 s) for the same session's logs, exported every 0.5 s here.
        with api.FakeMessagesAPI() as fake, Exporter(BINARY, prices, extra_args=["--otlp.aggregate-hold=3s"]) as ex:
            cc_env = dict(PATH=os.environ["PATH"], HOME=home, ANTHROPIC_BASE_URL=fake.base_url("ok"),
                          ANTHROPIC_API_KEY="test-key", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
                          CLAUDE_CODE_ENABLE_TELEMETRY="1", OTEL_LOGS_EXPORTER=logs_exporter,
                          OTEL_METRICS_EXPORTER=metrics_exporter,
                          OTEL_EXPORTER_OTLP_PROTOCOL=protocol, OTEL_EXPORTER_OTLP_ENDPOINT=ex.otlp,
                          OTEL_LOGS_EXPORT_INTERVAL="500", OTEL_METRIC_EXPORT_INTERVAL="500",
                          # Claude Code's metrics carry the model it asked for (its
                          # api_request event the one that answered): ask for the
                          # one the fake API answers with.
                          ANTHROPIC_MODEL=api.MODEL)
            res = subprocess.run([claude, "-p", "say hi"], env=cc_env, capture_output=True, text=True, timeout=120)
            if res.returncode != 0:
                fail("%s: claude -p exited %d: %s %s" % (protocol, res.returncode, res.stdout[-1000:],
                                                         res.stderr[-1000:]))
            if [r for r in fake.requests if r[1]] != [("ok", True, "test-key")]:
                fail("%s: expected one streamed Messages API call, saw %s" % (protocol, fake.requests))
            if from_metrics:
                s = ex.settle(lambda s: total(s, "llm_tokens_total", model=api.MODEL, token_type="output")
                              >= TOKENS["output"], timeout=20)
                want_requests = 0  # aggregates are not requests
            else:
                s = ex.settle(lambda s: total(s, "llm_requests_total", model=api.MODEL) >= 1, timeout=15)
                want_requests = 1
            if metrics_exporter == "otlp" and not from_metrics:
                # The metrics arrive (maybe before the logs), wait in the hold, and are
                # recognised as covered by the session's logs: never counted.
                s = ex.settle(lambda s: total(s, "llm_exporter_otlp_ignored_total", signal="metrics", reason="covered")
                              > 0, timeout=20)
                if total(s, "llm_exporter_otlp_ignored_total", signal="metrics", reason="covered") == 0:
                    fail("%s: the metrics were not recognised as covered by the logs" % what)
            if total(s, "llm_requests_total", model=api.MODEL) != want_requests:
                fail("%s: requests %s, expected %d; exporter log: %s"
                     % (what, total(s, "llm_requests_total"), want_requests, ex.read_log()[-1500:]))
            for kind, want in TOKENS.items():
                got = total(s, "llm_tokens_total", model=api.MODEL, token_type=kind)
                if got != want:
                    fail("%s: %s tokens %s, expected %s; OTLP counters %s; exporter log: %s"
                         % (what, kind, got, want, {k: v for k, v in s.items() if "otlp" in k[0] and v},
                            ex.read_log()[-1500:]))
            got = total(s, "llm_cost_usd_total", model=api.MODEL)
            if abs(got - EXPECTED_USD) > 1e-12:
                fail("%s: llm_cost_usd_total %.12f, expected %.12f" % (what, got, EXPECTED_USD))
            if total(s, "llm_cost_usd_total", cost_type="client_reported") != 0:
                fail("%s: Claude Code's cost_usd was added to llm_cost_usd_total" % protocol)
            reported = total(s, "llm_client_reported_cost_usd_total", model=api.MODEL)
            if not reported > 0:
                fail("%s: Claude Code's cost_usd not kept in llm_client_reported_cost_usd_total" % protocol)
            print("%s: claude %s: exporter %.6f USD (expected %.6f), Claude Code's own figure %.6f USD"
                  % (what, version, got, EXPECTED_USD, reported))
print("ok: the Claude Code CLI priced exactly over OTLP: api_request events (protobuf and JSON), logs and "
      "metrics together counted once, metrics alone priced from aggregates")
