"""llm-traffic-gen against the real exporter: what the generator says it delivered
(--print-summary) must be exactly what /metrics counts, by status, token type,
canonical model, feature, tenant and route.
usage: test_traffic_gen.py udp|http SCENARIO"""
import math
import socket
import sys

from harness import Exporter, TRAFFIC_GEN, by_label, fail, run_bounded, summary_of, total

transport, scenario = sys.argv[1], sys.argv[2]
SPIKE = ["--spike-at", "1", "--spike-duration", "1", "--spike-multiplier", "3",
         "--spike-feature", "agent", "--spike-tenant", "runaway-co", "--spike-model", "claude-opus-4-6"]
WEB_SEARCH_USD = 10.0 / 1000  # Anthropic: $10 per 1,000 searches (shared/design/pricing-facts.md)


def check_equal(what, got, want):
    got = {k: int(v) for k, v in got.items() if v}
    want = {k: int(v) for k, v in want.items() if v}
    if got != want:
        fail(f"{what}: /metrics {got} != sent {want}")


with Exporter() as ex:
    target = (f"udp://127.0.0.1:{ex.ingest_port}" if transport == "udp"
              else f"http://127.0.0.1:{ex.ingest_port}/v1/events")
    # 200 ev/s for 1 s, then 600 ev/s during the spike: 600 events take ~2 s.
    res = run_bounded([TRAFFIC_GEN, "--target", target, "--rate", "200", "--count", "600", "--seed", "42",
                       "--scenario", scenario, "--http-batch", "25", "--print-summary", "--quiet", *SPIKE], 30)
    s = summary_of(res)
    sent = s["events_sent"]
    if sent != 600 or s["events_failed"] or s["udp_refused"]:
        fail(f"generator did not deliver all events: {s['events_sent']} sent, {s['events_failed']} failed, "
             f"{s['udp_refused']} refused")
    if not 1.5 <= s["duration_seconds"] <= 6:
        fail(f"pacing: 600 events at 200/s with a 1 s x3 spike took {s['duration_seconds']} s, expected ~2 s")
    if not 200 <= s["spike_events"] <= 330 or s["by_tenant"].get("runaway-co", 0) != s["spike_events"]:
        fail(f"spike: {s['spike_events']} spike events, tenant runaway-co {s['by_tenant'].get('runaway-co')}")

    m = ex.scrape_until(lambda m: total(m, "llm_requests_total") >= sent)
    check_equal("requests", {"all": total(m, "llm_requests_total")}, {"all": sent})
    check_equal("accepted events", {"n": total(m, "llm_exporter_events_total", transport=transport, result="accepted")},
                {"n": sent})
    check_equal("rejected events", {"n": total(m, "llm_exporter_events_rejected_total")}, {})
    check_equal("requests by status", by_label(m, "llm_requests_total", "status"), s["by_status"])
    check_equal("tokens by type", by_label(m, "llm_tokens_total", "token_type"), s["tokens"])
    check_equal("requests by model", by_label(m, "llm_requests_total", "model"), s["by_model"])
    for label in ("feature", "tenant", "route"):
        check_equal("requests by " + label, by_label(m, "llm_requests_total", label), s[f"by_{label}"])
    web = total(m, "llm_cost_usd_total", cost_type="web_search")
    if not math.isclose(web, s["web_search_requests"] * WEB_SEARCH_USD, rel_tol=1e-9, abs_tol=1e-9):
        fail(f"web search cost {web} != {s['web_search_requests']} searches x ${WEB_SEARCH_USD}")
    if total(m, "llm_cost_usd_total") <= 0:
        fail("no cost recorded")

    # Scenario shapes, checked on what the exporter counted.
    if scenario == "expensive-model" and by_label(m, "llm_requests_total", "model").get("claude-opus-4-1", 0) < 100:
        fail("expensive-model: too few claude-opus-4-1 requests")
    reads = by_label(m, "llm_tokens_total", "token_type").get("cache_read", 0)
    writes = sum(v for k, v in by_label(m, "llm_tokens_total", "token_type").items() if k.startswith("cache_write"))
    if scenario == "cache-regression" and not reads < 0.2 * writes:
        fail(f"cache-regression: cache reads {reads} not far below writes {writes}")
    if scenario == "steady" and not reads > writes:
        fail(f"steady: cache reads {reads} should exceed writes {writes} (healthy hit rate)")

# Same seed, same events: two runs into a local UDP sink give identical summaries.
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
    sink.bind(("127.0.0.1", 0))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    args = [TRAFFIC_GEN, "--target", f"udp://127.0.0.1:{sink.getsockname()[1]}", "--rate", "5000", "--count", "300",
            "--seed", "7", "--scenario", scenario, "--print-summary", "--quiet"]
    a, b = summary_of(run_bounded(args, 20)), summary_of(run_bounded(args, 20))
    for key in ("tokens", "by_model_id", "by_feature", "by_tenant", "by_status", "web_search_requests"):
        if a[key] != b[key]:
            fail(f"--seed is not deterministic: {key} {a[key]} != {b[key]}")
print(f"ok: {transport} {scenario}: {sent} events, tokens {s['tokens']}")
