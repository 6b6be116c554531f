"""A flood of OTLP/HTTP trace requests against a small queue
(--ingest.max-queued-requests=1):
the exporter answers 429 with Retry-After beyond what it can take, counts nothing
of a refused request, and after the client's retries (bounded) every span is
counted exactly once. Rounds of concurrent senders repeat (bounded) until a 429
has been seen, so the test does not depend on how fast this machine is.
Then: metrics (aggregates) accepted and still held (--otlp.aggregate-hold=60s)
when the exporter gets SIGTERM are priced before its final checkpoint, so they are
there after a restart (--storage.path): nothing accepted is lost."""
import concurrent.futures
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from exporter_process import Exporter, total  # noqa: E402
from http_client import http  # noqa: E402

BINARY = os.environ["EXPORTER_BINARY"]
MODEL = "claude-flood-5"
RATES = {"input": 3, "output": 15}  # USD / MTok
PRICES = """as_of: "2026-12-01"
source: "tests/otlp"
models:
  - model: %s
    as_of: "2026-12-01"
    source: "tests/otlp"
    usd_per_mtok: {input: "3", cache_write_5m: "3.75", cache_write_1h: "6", cache_read: "0.30", output: "15"}
""" % MODEL
SPANS_PER_REQUEST = 400
SENDERS = 24
MAX_ROUNDS = 5


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def attr(k, v):
    return {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}


def request_body(round_no, sender):
    now = time.time_ns()
    spans = [{"traceId": "%032x" % (round_no * 1000 + sender), "spanId": "%016x" % i, "name": "chat",
              "startTimeUnixNano": str(now - 10**9), "endTimeUnixNano": str(now),
              "attributes": [attr("gen_ai.provider.name", "anthropic"), attr("gen_ai.request.model", MODEL),
                             attr("gen_ai.response.id", "msg_%d_%d_%d" % (round_no, sender, i)),
                             attr("gen_ai.usage.input_tokens", 100 + i), attr("gen_ai.usage.output_tokens", 10)]}
             for i in range(SPANS_PER_REQUEST)]
    return json.dumps({"resourceSpans": [{"resource": {"attributes": [attr("service.name", "flood")]},
                                          "scopeSpans": [{"spans": spans}]}]})


def send_until_accepted(url, body):
    """Returns how many 429s this request got before it was accepted."""
    refused = 0
    for _ in range(200):
        status, answer = http("POST", url, body, {"Content-Type": "application/json"}, timeout=30)
        if status == 200:
            if json.loads(answer or b"{}").get("partialSuccess", {}).get("rejectedSpans", "0") not in ("0", 0):
                fail("spans rejected: %s" % answer[:300])
            return refused
        if status != 429:
            fail("status %s: %s" % (status, answer[:300]))
        refused += 1
        time.sleep(0.02)  # the client's back-off (Retry-After says 1 s; a quicker retry is allowed)
    fail("a request was refused 200 times")


per_request_usd = sum((100 + i) * RATES["input"] + 10 * RATES["output"] for i in range(SPANS_PER_REQUEST)) / 1e6
start = time.monotonic()
with tempfile.TemporaryDirectory() as tmp:
    prices = os.path.join(tmp, "prices.yml")
    with open(prices, "w") as f:
        f.write(PRICES)
    with Exporter(BINARY, prices, extra_args=["--ingest.max-queued-requests=1", "--ingest.max-body-bytes=1000000"]) as ex:
        url = ex.otlp + "/v1/traces"
        sent, refused_total = 0, 0
        for round_no in range(MAX_ROUNDS):
            bodies = [request_body(round_no, s) for s in range(SENDERS)]
            with concurrent.futures.ThreadPoolExecutor(SENDERS) as pool:
                refused_total += sum(pool.map(lambda b: send_until_accepted(url, b), bodies))
            sent += SENDERS
            if refused_total > 0:
                break
        if refused_total == 0:
            fail("no 429 in %d rounds of %d concurrent requests" % (MAX_ROUNDS, SENDERS))
        want = sent * per_request_usd
        s = ex.settle(lambda s: abs(total(s, "llm_cost_usd_total", model=MODEL) - want) < 1e-9, timeout=10)
        got = total(s, "llm_cost_usd_total", model=MODEL)
        if abs(got - want) > 1e-9:
            fail("cost %.12f, expected %.12f (%d requests accepted)" % (got, want, sent))
        if total(s, "llm_requests_total", model=MODEL) != sent * SPANS_PER_REQUEST:
            fail("requests %s, expected %d" % (total(s, "llm_requests_total", model=MODEL), sent * SPANS_PER_REQUEST))
        print("ok: %d requests, %d answered 429 first and retried; cost %.6f USD, each span once; %.1f s"
              % (sent, refused_total, got, time.monotonic() - start))

    # Held aggregates across a graceful restart.
    storage = os.path.join(tmp, "state")
    with Exporter(BINARY, prices, extra_args=["--otlp.aggregate-hold=60s", "--storage.path=" + storage]) as ex:
        now = time.time_ns()
        point = lambda t, v: {"startTimeUnixNano": str(now - 60 * 10**9), "timeUnixNano": str(now), "asDouble": v,
                              "attributes": [attr("type", t), attr("model", MODEL), attr("session.id", "s-held")]}
        body = json.dumps({"resourceMetrics": [{"resource": {"attributes": [attr("service.name", "claude-code")]},
                                                "scopeMetrics": [{"metrics": [{"name": "claude_code.token.usage",
                                                                              "sum": {"aggregationTemporality": 1,
                                                                                      "dataPoints": [point("input", 4000), point("output", 900)]}}]}]}]})
        status, answer = http("POST", ex.otlp + "/v1/metrics", body, {"Content-Type": "application/json"})
        if status != 200:
            fail("metrics: %s %s" % (status, answer[:300]))
        if total(ex.scrape(), "llm_tokens_total", model=MODEL) != 0:
            fail("held aggregates were priced before the hold ended")
        if ex.stop() != 0:
            fail("exporter did not stop cleanly: %s" % ex.read_log()[-1500:])
        ex.start()
        want = (4000 * RATES["input"] + 900 * RATES["output"]) / 1e6
        s = ex.settle(lambda s: abs(total(s, "llm_cost_usd_total", model=MODEL) - want) < 1e-12, timeout=10)
        got = total(s, "llm_cost_usd_total", model=MODEL)
        if abs(got - want) > 1e-12:
            fail("held aggregates after a restart: cost %.12f, expected %.12f" % (got, want))
        print("ok: aggregates held at SIGTERM priced before the final checkpoint: %.6f USD after the restart" % got)
