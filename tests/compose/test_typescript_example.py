"""examples/typescript with the real @anthropic-ai/sdk (npm ci from the committed
lock file) against the fake Messages API (tests/lib/fake_messages_api.py) and the
real exporter:
- demo.js (the example's own program) counts its plain and streamed call; against
  an API answering 529 it exits 1 and its error event still arrives (flush);
- ts_example_driver.mjs runs send-usage.js on every path: each reports exactly once
  with the usage seen (complete stream = message_start overwritten by the last
  cumulative message_delta; a stream the caller breaks, one failing with an error
  event, one that just ends), HTTP errors, and the message id as request_id (the
  same id twice is counted once)."""
import json
import os
import shutil
import sys
import time

from harness import SOURCE_DIR, Exporter, by_label, fail, run_bounded, total
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "lib"))
import fake_messages_api as api  # noqa: E402

EXAMPLE = os.path.join(SOURCE_DIR, "examples", "typescript")
DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ts_example_driver.mjs")
PLAIN = {"input": api.PLAIN_USAGE["input_tokens"], "output": api.PLAIN_USAGE["output_tokens"],
         "cache_read": api.PLAIN_USAGE["cache_read_input_tokens"]}
START = {"input": api.START_USAGE["input_tokens"], "output": api.START_USAGE["output_tokens"],
         "cache_write_5m": api.START_USAGE["cache_creation_input_tokens"]}
COMPLETE = dict(START, output=api.DELTA_OUTPUTS[-1])  # the last cumulative delta, not a sum


def tokens_of(m, feature):
    return {k: int(v) for k, v in by_label(m, "llm_tokens_total", "token_type", feature=feature).items()}


def check(m, feature, status, tokens):
    got = by_label(m, "llm_requests_total", "status", feature=feature)
    if got != {status: 1}:
        fail(f"{feature}: requests by status {got}, expected {{{status!r}: 1}}")
    if tokens_of(m, feature) != {k: v for k, v in tokens.items() if v}:
        fail(f"{feature}: tokens {tokens_of(m, feature)} != {tokens}")


npm = shutil.which("npm")
if not npm:
    fail("npm not found (Debian packages nodejs + npm)")
env = dict(os.environ, npm_config_audit="false", npm_config_fund="false", npm_config_update_notifier="false")
res = run_bounded([npm, "ci", "--no-audit", "--no-fund"], 300, cwd=EXAMPLE, env=env)
if res.returncode != 0:
    fail(f"npm ci failed: {res.stderr[-2000:]}")
res = run_bounded([os.path.join(EXAMPLE, "node_modules", ".bin", "tsc"), "-p", "."], 180, cwd=EXAMPLE)
if res.returncode != 0:
    fail(f"tsc failed: {res.stdout[-2000:]} {res.stderr[-2000:]}")

with api.FakeMessagesAPI() as fake, Exporter() as ex:
    base_env = dict(os.environ, LLM_COST_EXPORTER_HOST="127.0.0.1", LLM_COST_EXPORTER_PORT=str(ex.ingest_port),
                    ANTHROPIC_API_KEY="test-key")
    res = run_bounded(["node", os.path.join(EXAMPLE, "dist", "demo.js")], 60, cwd=EXAMPLE,
                      env=dict(base_env, ANTHROPIC_BASE_URL=fake.base_url("ok")))
    if res.returncode != 0:
        fail(f"demo exited {res.returncode}: {res.stdout[-2000:]} {res.stderr[-2000:]}")
    if sorted(fake.requests) != [("ok", False, "test-key"), ("ok", True, "test-key")]:
        fail(f"fake Messages API saw {fake.requests}")
    m = ex.scrape_until(lambda m: total(m, "llm_requests_total", feature="ts-example") >= 2)
    if total(m, "llm_requests_total", feature="ts-example", model=api.MODEL, status="ok") != 2:
        fail("exporter did not count both demo calls: " + str(by_label(m, "llm_requests_total", "feature")))
    want = {k: PLAIN.get(k, 0) + COMPLETE.get(k, 0) for k in set(PLAIN) | set(COMPLETE)}
    if tokens_of(m, "ts-example") != {k: v for k, v in want.items() if v}:
        fail(f"demo tokens {tokens_of(m, 'ts-example')} != {want}")
    if total(m, "llm_time_to_first_token_seconds_count", feature="ts-example") != 1:
        fail("the streamed call did not report ttft_ms")

    # The demo against an overloaded API: exit 1, and the error event arrives anyway.
    res = run_bounded(["node", os.path.join(EXAMPLE, "dist", "demo.js")], 60, cwd=EXAMPLE,
                      env=dict(base_env, ANTHROPIC_BASE_URL=fake.base_url("http_529")))
    if res.returncode != 1 or "failed" not in res.stderr:
        fail(f"demo on a 529 should report and exit 1, exited {res.returncode}: {res.stderr[-1000:]}")
    m = ex.scrape_until(lambda m: total(m, "llm_requests_total", feature="ts-example", status="overloaded") >= 1)
    if total(m, "llm_requests_total", feature="ts-example", status="overloaded") != 1:
        fail("the demo's 529 was not reported before exit: " + str(by_label(m, "llm_requests_total", "status")))


# A fresh exporter: the demo already used the fake's fixed message ids.
with api.FakeMessagesAPI() as fake, Exporter() as ex:
    base_env = dict(os.environ, LLM_COST_EXPORTER_HOST="127.0.0.1", LLM_COST_EXPORTER_PORT=str(ex.ingest_port))
    res = run_bounded(["node", DRIVER], 60, cwd=EXAMPLE, env=dict(base_env, EXAMPLE_DIR=EXAMPLE, FAKE_API=fake.url))
    if res.returncode != 0:
        fail(f"driver exited {res.returncode}: {res.stdout[-2000:]} {res.stderr[-2000:]}")
    outcomes = {}
    for line in res.stdout.splitlines():
        d = json.loads(line)
        outcomes.setdefault(d["feature"], []).append(d["outcome"])
    want_outcomes = {"ts-create": ["ok", "ok"], "ts-stream": ["ok", "ok"], "ts-stream-break": ["ok"],
                     "ts-stream-cut": ["ok"]}
    for feature, want in want_outcomes.items():
        if outcomes.get(feature) != want:
            fail(f"{feature}: {outcomes.get(feature)}, expected {want}")
    for feature in ("ts-stream-error", "ts-http-429", "ts-stream-529"):
        if not outcomes.get(feature, [""])[0].startswith("threw"):
            fail(f"{feature}: the API error must reach the caller, got {outcomes.get(feature)}")
    want = {
        "ts-create": ("ok", PLAIN),           # twice with one message id: counted once
        "ts-stream": ("ok", COMPLETE),        # the same for the stream's id (request_id)
        "ts-stream-break": ("ok", START),     # the usage seen before the caller stopped
        "ts-stream-error": ("overloaded", START),
        "ts-stream-cut": ("other_error", START),
        "ts-http-429": ("rate_limited", {}),
        "ts-stream-529": ("overloaded", {}),
    }
    m = ex.scrape_until(lambda m: all(total(m, "llm_requests_total", feature=f) >= 1 for f in want))
    time.sleep(0.5)  # a second report of any call (a bug) would arrive by now
    m = ex.scrape_until(lambda m: False, timeout=0.5)
    for feature, (status, tokens) in want.items():
        check(m, feature, status, tokens)
    if total(m, "llm_exporter_events_rejected_total", reason="duplicate") < 2:
        fail("the repeated message ids were not rejected as duplicates: request_id missing")
print("ok: typescript example, every path reported once")
