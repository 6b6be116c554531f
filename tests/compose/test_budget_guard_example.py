"""examples/python/budget_guard.py against the real exporter (HTTP /v1/budgets,
/v1/prices; events over UDP through send_usage.py) and the fake Messages API, via
stdlib_anthropic (the `anthropic` SDK cannot be installed here). Expected money is
computed from claude-sonnet-4-6's published rates ($3 input, $15 output, $0.30
cache read, $3.75 cache write 5m per MTok) and the fake API's usage constants."""
import importlib.util
import os
import sys
import tempfile
import time

from harness import SOURCE_DIR, Exporter, by_label, fail
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "lib"))
import fake_messages_api as api  # noqa: E402
import stdlib_anthropic  # noqa: E402
from ports import free_port  # noqa: E402

sys.modules["anthropic"] = stdlib_anthropic
RATES = {"input_tokens": 3, "output_tokens": 15, "cache_read_input_tokens": 0.30, "cache_creation_input_tokens": 3.75}


def usd(usage):
    return sum(usage.get(k, 0) * r for k, r in RATES.items()) / 1e6


PLAIN = usd(api.PLAIN_USAGE)          # 0.000426
BUDGET = round(PLAIN * 1.9, 6)        # two plain calls exceed it, one does not
CAP = usd(api.START_USAGE) + 20 * 15 / 1e6  # message_start's usage + 20 more output tokens

cfg = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False)
cfg.write("budgets:\n  - {scope: 'feature:py-guard', period: day, usd: %s}\n" % BUDGET)
cfg.close()

with api.FakeMessagesAPI() as fake, Exporter(["--config.file=" + cfg.name]) as ex:
    os.environ["LLM_COST_EXPORTER_HOST"] = "127.0.0.1"
    os.environ["LLM_COST_EXPORTER_PORT"] = str(ex.ingest_port)
    os.environ["LLM_COST_EXPORTER_URL"] = ex.ingest
    spec = importlib.util.spec_from_file_location("budget_guard", os.path.join(SOURCE_DIR, "examples/python/budget_guard.py"))
    bg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bg)
    client = lambda scenario: stdlib_anthropic.Anthropic(base_url=fake.base_url(scenario))  # noqa: E731
    params = dict(model=api.MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    labels = {"feature": "py-guard", "tenant": "acme"}
    guard = bg.BudgetGuard("feature:py-guard", max_age=0)  # no caching: see each event's effect

    def spent():
        return bg._get("/v1/budgets/feature:py-guard")[2]["periods"]["day"]["spent_usd"]

    def wait_spent(want):
        deadline = time.time() + 10
        while abs(spent() - want) > 1e-12 and time.time() < deadline:
            time.sleep(0.05)
        if abs(spent() - want) > 1e-12:
            fail(f"spent_usd {spent()} != {want}")

    bg.guarded_create(client("ok"), guard, labels, **params)
    wait_spent(PLAIN)
    # The fake answers every plain call with the same message id, which the exporter
    # counts once (a retry): the second spend is reported without a request_id.
    bg.send_usage.send_event(api.MODEL, dict(api.PLAIN_USAGE), time.monotonic(), labels, status=200)
    wait_spent(2 * PLAIN)
    calls = len(fake.requests)
    try:
        bg.guarded_create(client("ok"), guard, labels, **params)
        fail("guarded_create called the API with the budget exceeded")
    except bg.BudgetExceeded:
        pass
    if len(fake.requests) != calls:
        fail("the API was called although the budget was exceeded")

    # Exporter unreachable: fail open by default, fail closed by option.
    bg.EXPORTER_URL = "http://127.0.0.1:%d" % free_port()
    bg.guarded_create(client("ok"), bg.BudgetGuard("feature:py-guard"), {"feature": "py-open"}, **params)
    try:
        bg.guarded_create(client("ok"), bg.BudgetGuard("feature:py-guard", fail_closed=True), {"feature": "py-closed"}, **params)
        fail("fail_closed called the API with the exporter unreachable")
    except bg.BudgetExceeded:
        pass
    bg.EXPORTER_URL = ex.ingest

    # A stream stopped at its cap; the usage seen (message_start's) is reported.
    deltas = 0
    try:
        for ev in bg.capped_stream(client("long"), bg.BudgetGuard("global"), {"feature": "py-capped"}, CAP, **params):
            deltas += ev.type == "content_block_delta"
        fail("the stream was not stopped at its cap")
    except bg.StreamCapExceeded:
        pass
    # The cap allows START's output (1 token) + 20 = 21 output tokens; each text delta
    # counts one, so the 22nd passes it: 21 were yielded.
    if deltas != 21:
        fail(f"{deltas} text deltas before the stop, expected 21")
    m = ex.scrape_until(lambda m: by_label(m, "llm_tokens_total", "token_type", feature="py-capped"))
    got = {k: int(v) for k, v in by_label(m, "llm_tokens_total", "token_type", feature="py-capped").items()}
    want = {"input": api.START_USAGE["input_tokens"], "output": api.START_USAGE["output_tokens"],
            "cache_write_5m": api.START_USAGE["cache_creation_input_tokens"]}
    if got != want:
        fail(f"capped stream reported {got}, expected {want}")
    if bg.pusd_per_token(api.MODEL)["output"] != 15_000_000:
        fail("/v1/prices: sonnet-4-6 output is not $15/MTok")
os.unlink(cfg.name)
print("ok: budget_guard refuses past the budget, fails open/closed, stops a stream at its cap")
