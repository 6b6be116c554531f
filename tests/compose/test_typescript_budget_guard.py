"""examples/typescript/budget-guard.ts (compiled by the examples.typescript test's npm ci
+ tsc, or here with tsc when node_modules is present) with the real @anthropic-ai/sdk
against the fake Messages API and the real exporter. Money from claude-sonnet-4-6's
published rates ($3 input, $15 output, $0.30 cache read, $3.75 cache write 5m per MTok)."""
import json
import os
import sys
import tempfile

from harness import SOURCE_DIR, Exporter, by_label, fail, run_bounded
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "lib"))
import fake_messages_api as api  # noqa: E402

EXAMPLE = os.path.join(SOURCE_DIR, "examples", "typescript")
DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ts_budget_guard_driver.mjs")
RATES = {"input_tokens": 3, "output_tokens": 15, "cache_read_input_tokens": 0.30, "cache_creation_input_tokens": 3.75}
usd = lambda u: sum(u.get(k, 0) * r for k, r in RATES.items()) / 1e6  # noqa: E731
PLAIN = usd(api.PLAIN_USAGE)
CAP = usd(api.START_USAGE) + 20 * 15 / 1e6  # message_start's usage + 20 more output tokens

if not os.path.isdir(os.path.join(EXAMPLE, "node_modules", "@anthropic-ai")):
    res = run_bounded(["npm", "ci", "--no-audit", "--no-fund"], 300, cwd=EXAMPLE)
    if res.returncode != 0:
        fail(f"npm ci failed: {res.stderr[-2000:]}")
res = run_bounded([os.path.join(EXAMPLE, "node_modules", ".bin", "tsc"), "-p", "."], 180, cwd=EXAMPLE)
if res.returncode != 0:
    fail(f"tsc failed: {res.stdout[-2000:]} {res.stderr[-2000:]}")

cfg = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False)
cfg.write("budgets:\n  - {scope: 'feature:ts-guard', period: day, usd: %s}\n" % round(PLAIN * 0.9, 6))
cfg.close()
with api.FakeMessagesAPI() as fake, Exporter(["--config.file=" + cfg.name]) as ex:
    env = dict(os.environ, LLM_COST_EXPORTER_HOST="127.0.0.1", LLM_COST_EXPORTER_PORT=str(ex.ingest_port),
               LLM_COST_EXPORTER_URL=ex.ingest, EXAMPLE_DIR=EXAMPLE, FAKE_API=fake.url, CAP_USD=repr(CAP))
    res = run_bounded(["node", DRIVER], 60, cwd=EXAMPLE, env=env)
    if res.returncode != 0:
        fail(f"driver exited {res.returncode}: {res.stdout[-2000:]} {res.stderr[-2000:]}")
    steps = {d["step"]: d for d in map(json.loads, res.stdout.splitlines())}
    want = {"first": "ok", "second": "BudgetExceeded", "open": "called", "closed": "BudgetExceeded",
            "capped": "StreamCapExceeded"}
    for step, outcome in want.items():
        if steps.get(step, {}).get("outcome") != outcome:
            fail(f"{step}: {steps.get(step)}, expected {outcome}")
    # The cap allows START's 1 output token + 20; the 22nd text delta passes it: 21 yielded.
    if steps["capped"]["deltas"] != 21:
        fail(f"capped stream yielded {steps['capped']['deltas']} deltas, expected 21")
    if steps["rates"]["output"] != 15_000_000:
        fail("/v1/prices: sonnet-4-6 output is not $15/MTok in pUSD per token")
    # ok (first), ok (open), long (capped): the refused calls never reached the API.
    if [s for s, _, _ in fake.requests] != ["ok", "ok", "long"]:
        fail(f"fake Messages API saw {fake.requests}")
    m = ex.scrape_until(lambda m: by_label(m, "llm_tokens_total", "token_type", feature="ts-capped"))
    got = {k: int(v) for k, v in by_label(m, "llm_tokens_total", "token_type", feature="ts-capped").items()}
    start = {"input": api.START_USAGE["input_tokens"], "output": api.START_USAGE["output_tokens"],
             "cache_write_5m": api.START_USAGE["cache_creation_input_tokens"]}
    if got != start:
        fail(f"capped stream reported {got}, expected {start}")
os.unlink(cfg.name)
print("ok: typescript budget guard refuses past the budget, fails open/closed, stops a stream at its cap")
