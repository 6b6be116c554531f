"""examples/python/send_usage.py against the real exporter over UDP and the fake
Messages API (tests/lib/fake_messages_api.py), through stdlib_anthropic, the
standard-library stand-in for the `anthropic` SDK (which cannot be installed here).
Every path must report exactly once, with the usage seen: plain calls, complete
streams, a stream the caller stops early, a stream that fails with an error event,
one that just ends, HTTP errors and an unreachable API; streams carry the message id
as request_id (the same id twice is counted once)."""
import importlib.util
import os
import sys
import time

from harness import SOURCE_DIR, Exporter, by_label, fail, total
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "lib"))
import fake_messages_api as api  # noqa: E402
import stdlib_anthropic  # noqa: E402
from ports import free_port  # noqa: E402

sys.modules["anthropic"] = stdlib_anthropic
PLAIN = {"input": api.PLAIN_USAGE["input_tokens"], "output": api.PLAIN_USAGE["output_tokens"],
         "cache_read": api.PLAIN_USAGE["cache_read_input_tokens"]}
START = {"input": api.START_USAGE["input_tokens"], "output": api.START_USAGE["output_tokens"],
         "cache_write_5m": api.START_USAGE["cache_creation_input_tokens"]}
COMPLETE = dict(START, output=api.DELTA_OUTPUTS[-1])  # the last cumulative delta, not a sum


def expect_raise(fn, exc, what):
    try:
        fn()
    except exc:
        return
    fail(what + ": the error was swallowed")


with api.FakeMessagesAPI() as fake, Exporter() as ex:
    os.environ["LLM_COST_EXPORTER_HOST"] = "127.0.0.1"
    os.environ["LLM_COST_EXPORTER_PORT"] = str(ex.ingest_port)
    spec = importlib.util.spec_from_file_location("send_usage", os.path.join(SOURCE_DIR, "examples/python/send_usage.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    client = lambda scenario: stdlib_anthropic.Anthropic(base_url=fake.base_url(scenario))  # noqa: E731
    params = dict(model=api.MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    labels = lambda feature: {"feature": feature, "tenant": "acme"}  # noqa: E731

    for _ in range(2):  # the same message id twice: counted once only if request_id is sent
        if mod.create(client("ok"), labels("py-create"), **params).id != api.PLAIN_ID:
            fail("create() did not return the SDK's message")
        n = sum(1 for _ in mod.stream(client("ok"), labels("py-stream"), **params))
        if n != 8:
            fail(f"stream() yielded {n} events, expected 8 (ping skipped)")
    for ev in mod.stream(client("long"), labels("py-stream-break"), **params):
        if ev.type == "content_block_delta":
            break  # the caller stops at the first text: the generator is closed right here
    kept = mod.stream(client("long"), labels("py-stream-close"), **params)
    next(kept)
    kept.close()
    expect_raise(lambda: list(mod.stream(client("sse_error"), labels("py-stream-error"), **params)),
                 stdlib_anthropic.APIStatusError, "error event in a stream")
    list(mod.stream(client("cut"), labels("py-stream-cut"), **params))
    expect_raise(lambda: mod.create(client("http_429"), labels("py-http-429"), **params),
                 stdlib_anthropic.APIStatusError, "429")
    expect_raise(lambda: list(mod.stream(client("http_529"), labels("py-stream-529"), **params)),
                 stdlib_anthropic.APIStatusError, "529 on a stream")
    dead = stdlib_anthropic.Anthropic(base_url="http://127.0.0.1:%d/ok" % free_port())
    expect_raise(lambda: mod.create(dead, labels("py-unreachable"), **params),
                 stdlib_anthropic.APIConnectionError, "unreachable API")

    # feature -> (status, requests, tokens by type)
    want = {
        "py-create": ("ok", 1, PLAIN),
        "py-stream": ("ok", 1, COMPLETE),
        "py-stream-break": ("ok", 1, START),  # the usage seen before the caller stopped
        "py-stream-close": ("ok", 1, START),
        "py-stream-error": ("overloaded", 1, START),
        "py-stream-cut": ("other_error", 1, START),
        "py-http-429": ("rate_limited", 1, {}),
        "py-stream-529": ("overloaded", 1, {}),
        "py-unreachable": ("other_error", 1, {}),
    }
    m = ex.scrape_until(lambda m: all(total(m, "llm_requests_total", feature=f) >= 1 for f in want))
    time.sleep(0.5)  # a second report of any call (a bug) would arrive by now
    m = ex.scrape_until(lambda m: False, timeout=0.5)
    for feature, (status, n, tokens) in want.items():
        got = by_label(m, "llm_requests_total", "status", feature=feature)
        if got != {status: n}:
            fail(f"{feature}: requests by status {got}, expected {{{status!r}: {n}}}")
        got = {k: int(v) for k, v in by_label(m, "llm_tokens_total", "token_type", feature=feature).items()}
        if got != {k: v for k, v in tokens.items() if v}:
            fail(f"{feature}: tokens {got} != {tokens}")
    if total(m, "llm_time_to_first_token_seconds_count", feature="py-stream") != 1:
        fail("stream() did not report ttft_ms")
    if total(m, "llm_exporter_events_rejected_total", reason="duplicate") < 2:
        fail("the repeated message ids were not rejected as duplicates: request_id missing")

    # Nobody listening: sending must neither raise nor stall the application.
    mod.EXPORTER = ("127.0.0.1", 9)
    t0 = time.monotonic()
    for _ in range(50):
        mod.create(client("ok"), labels("py-create"), **params)
    if time.monotonic() - t0 > 5:
        fail("sending to an absent exporter slowed the application down")
print("ok: python example, every path reported once")
