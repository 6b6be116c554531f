"""The warning for an unpriced request says what to do for ITS reason: only an
unknown model is fixed by adding it to the price file (issue 11: the hint "add the
model to the price file" was printed for a priced model on the priority tier).
The real exporter on loopback, one event per reason, the log read back."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from exporter_process import Exporter, total  # noqa: E402

SOURCE = os.environ.get("SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ["EXPORTER_BINARY"]
events = [
    {"model": "claude-nonexistent-9", "usage": {"input_tokens": 10, "output_tokens": 5}},
    {"model": "claude-sonnet-4-5", "service_tier": "priority", "usage": {"input_tokens": 10, "output_tokens": 5}},
]
with Exporter(BINARY, os.path.join(SOURCE, "exporter", "pricing", "prices.yml")) as ex:
    status, body = ex.post("\n".join(json.dumps(e) for e in events))
    assert status == 202, (status, body)
    ex.settle(lambda s: total(s, "llm_unpriced_requests_total") >= 2)
    log = [l for l in ex.read_log().splitlines() if "request not priced" in l]
by_reason = {r: [l for l in log if "reason=" + r in l] for r in ("unknown_model", "no_tier_price")}
problems = []
for reason, lines in by_reason.items():
    if len(lines) != 1:
        problems.append("%s: %d warnings, expected 1: %s" % (reason, len(lines), log))
if by_reason["unknown_model"] and "add it there" not in by_reason["unknown_model"][0]:
    problems.append("unknown model: the hint must say to add it to the price file: " + by_reason["unknown_model"][0])
if by_reason["no_tier_price"] and "add it there" in by_reason["no_tier_price"][0]:
    problems.append("priority tier: the model IS in the price file, the hint must not say to add it: "
                    + by_reason["no_tier_price"][0])
if any("add the model to the price file" in l for l in log):
    problems.append("the old misleading hint is still printed")
if problems:
    print("FAIL: " + "\n  ".join(problems))
    sys.exit(1)
print("ok: unpriced warnings name the reason and the right fix")
