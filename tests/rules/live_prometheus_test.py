#!/usr/bin/python3
"""Loads every shipped rule file into a real Prometheus and checks that all of
them evaluate without errors against realistic data: several features, tenants,
models and exporter replicas, budgets for several scopes (global, feature:*,
tenant:*), histograms. promtool's unit tests use a few series each; errors that
need many series at once (a `group_left` join that finds two matches, for
example) only show up here.

A stand-in exporter in this process serves /metrics with counters that grow
steadily; Prometheus (127.0.0.1, free port, temp data dir, 1s scrape and rule
evaluation) scrapes it. The rule files are copied to a temp dir with group
`interval` overrides removed, so that the 5m month-projection group is also
evaluated within the test. With steady, in-budget traffic no alert may fire.
Prometheus is stopped by PID on exit.

usage: live_prometheus_test.py <prometheus binary> <repo root>
"""
import glob
import http.server
import os
import sys
import threading
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from ports import free_port  # noqa: E402
from prometheus_server import Prometheus, scrape_job  # noqa: E402

TIMEOUT_S = 90
START = time.time()

FEATURES = {"chat": ("claude-sonnet-4-5", 0.02), "search": ("claude-haiku-4-5", 0.005), "batch": ("claude-opus-4-5", 0.01)}
TENANTS = ["acme", "globex"]
INSTANCES = ["a", "b"]  # two exporter replicas with the same label sets, like an HA pair


def exposition(instance):
    """Counters = per-second rate x seconds since start; every series starts at 0."""
    t = time.time() - START
    out = []

    def line(name, labels, value):
        lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
        out.append(f"{name}{{{lab}}} {value}")
    out.append("# TYPE llm_cost_usd_total counter")
    for feature, (model, usd) in FEATURES.items():
        for tenant in TENANTS:
            base = {"provider": "anthropic", "model": model, "feature": feature, "tenant": tenant, "route": "/" + feature}
            for ct, share in (("input", 0.3), ("output", 0.6), ("cache_read", 0.1)):
                line("llm_cost_usd_total", dict(base, cost_type=ct), usd * share * t)
    out.append("# TYPE llm_requests_total counter")
    out.append("# TYPE llm_tokens_total counter")
    out.append("# TYPE llm_cache_savings_usd_total counter")
    for feature, (model, usd) in FEATURES.items():
        for tenant in TENANTS:
            base = {"provider": "anthropic", "model": model, "feature": feature, "tenant": tenant, "route": "/" + feature}
            for status, rps in (("ok", 2.0), ("rate_limited", 0.05), ("server_error", 0.01)):
                line("llm_requests_total", dict(base, status=status), rps * t)
            for tt, tps in (("input", 500), ("output", 300), ("cache_read", 2000), ("cache_write_5m", 100), ("cache_write_1h", 10)):
                line("llm_tokens_total", dict(base, token_type=tt), tps * t)
            line("llm_cache_savings_usd_total", base, 0.001 * t)
    hists = {
        "llm_request_duration_seconds": ([0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300], [0, 0.1, 0.3, 0.6, 0.8, 0.95, 0.99, 1, 1, 1, 1]),
        "llm_time_to_first_token_seconds": ([0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30], [0.1, 0.5, 0.8, 0.95, 1, 1, 1, 1, 1]),
        "llm_request_input_tokens": ([256, 1024, 4096, 16384, 32768, 65536, 131072, 200000, 500000, 1000000], [0, 0.2, 0.7, 0.97, 1, 1, 1, 1, 1, 1]),
        "llm_request_output_tokens": ([64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536], [0.1, 0.5, 0.9, 1, 1, 1, 1, 1, 1]),
        "llm_request_cost_usd": ([0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], [0, 0.1, 0.4, 0.7, 0.95, 0.99, 1, 1, 1, 1, 1, 1]),
    }
    for name, (bounds, cum) in hists.items():
        out.append(f"# TYPE {name} histogram")
        for feature, (model, _) in FEATURES.items():
            base = {"provider": "anthropic", "model": model, "feature": feature}
            n = 4.0 * t
            for b, c in zip(bounds, cum):
                line(name + "_bucket", dict(base, le=f"{b:g}"), c * n)
            line(name + "_bucket", dict(base, le="+Inf"), n)
            line(name + "_sum", base, 1.5 * n)
            line(name + "_count", base, n)
    out.append("# TYPE llm_budget_usd gauge")
    for scope, period, usd in (("global", "month", 200000), ("global", "day", 8000), ("feature:chat", "month", 100000),
                               ("feature:search", "month", 50000), ("tenant:acme", "month", 100000),
                               ("tenant:acme", "day", 5000), ("tenant:globex", "month", 100000), ("feature:gone", "month", 0)):
        line("llm_budget_usd", {"scope": scope, "period": period}, usd)
    # The spend ledger: every budget scope and global, each period, well in budget.
    out.append("# TYPE llm_spend_usd gauge")
    for scope in ("global", "feature:chat", "feature:search", "tenant:acme", "tenant:globex", "feature:gone"):
        for period in ("day", "week", "month"):
            line("llm_spend_usd", {"scope": scope, "period": period}, 0.01 * t)
    out.append("# TYPE llm_exporter_build_info gauge")
    line("llm_exporter_build_info", {"version": "0.1.0", "revision": "test"}, 1)
    out.append("# TYPE llm_exporter_events_total counter")
    for transport in ("http", "udp"):
        line("llm_exporter_events_total", {"transport": transport, "result": "accepted"}, 10 * t)
        line("llm_exporter_events_total", {"transport": transport, "result": "rejected"}, 0)
    out.append("# TYPE llm_exporter_events_rejected_total counter")
    line("llm_exporter_events_rejected_total", {"transport": "udp", "reason": "malformed_json"}, 0)
    out.append("# TYPE llm_exporter_label_overflow_total counter")
    line("llm_exporter_label_overflow_total", {"label": "tenant"}, 0)
    out.append("# TYPE llm_unpriced_requests_total counter")
    line("llm_unpriced_requests_total", {"provider": "anthropic", "model": "claude-sonnet-4-5", "reason": "no_tier_price"}, 0)
    out.append("# TYPE llm_exporter_pricing_as_of_timestamp_seconds gauge")
    line("llm_exporter_pricing_as_of_timestamp_seconds", {}, int(time.time()) - 86400 * 10)
    out.append("# TYPE llm_exporter_pricing_last_reload_successful gauge")
    line("llm_exporter_pricing_last_reload_successful", {}, 1)
    # Empty label sets render as name{} which the text format accepts.
    return "\n".join(out) + "\n"


class Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        instance = "b" if self.path.startswith("/b/") else "a"
        body = exposition(instance).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    prom_bin, repo = sys.argv[1], sys.argv[2]
    failures = []
    prom = Prometheus(prom_bin, api_timeout=5)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Exporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    exporter = f"127.0.0.1:{server.server_address[1]}"
    try:
        groups = []
        for path in sorted(glob.glob(os.path.join(repo, "prometheus", "rules", "*.yml"))):
            with open(path) as f:
                doc = yaml.safe_load(f)
            for g in doc["groups"]:
                g.pop("interval", None)
                groups.append(g["name"])
            prom.write_file(os.path.join("rules", os.path.basename(path)), yaml.safe_dump(doc))
        # Two "replicas": the same exposition under two instance labels.
        config = {"scrape_configs": [scrape_job("llm-cost-exporter", exporter, metrics_path="/a/metrics"),
                                     scrape_job("llm-cost-exporter-b", exporter, metrics_path="/b/metrics")]}
        deadline = time.monotonic() + TIMEOUT_S
        try:
            prom.start(config, [os.path.join(prom.dir, "rules", "*.yml")], "1s", "1s", timeout=TIMEOUT_S)
        except RuntimeError as e:
            failures.append(str(e))
        rules_ok = False
        problems = []
        while not failures and time.monotonic() < deadline:
            if prom.proc.poll() is not None:
                failures.append(f"prometheus exited with {prom.proc.returncode}")
                break
            try:
                loaded = {g["name"]: g for g in prom.rules()}
            except (OSError, RuntimeError, ValueError, KeyError):
                time.sleep(0.5)
                continue
            problems = []
            for name in groups:
                g = loaded.get(name)
                if g is None:
                    problems.append(f"group {name} not loaded")
                    continue
                for r in g["rules"]:
                    rname = r.get("name")
                    if r.get("health") != "ok" or r.get("lastError"):
                        problems.append(f"{name}/{rname}: health={r.get('health')} error={r.get('lastError')}")
            # Wait until the time-based data has a few minutes' worth of shape
            # (>= 20 evaluations) so that rate windows have several samples.
            if not problems and time.time() - START > 20:
                rules_ok = True
                break
            time.sleep(1)
        if not rules_ok and not failures:
            failures.extend(problems or ["rules did not become healthy in time"])

        if rules_ok:
            def count(q):
                return len(prom.query(q))
            expect = {
                # 5 month budgets > 0 (the 0 budget of feature:gone counts as unset)
                "llm_scope:budget_burn_rate:rate5m": 5,
                "llm_scope:budget_spend:ratio_day": 2,
                "llm_scope:budget_projected_spend:ratio_month": 5,
                # 7 budgets > 0, each with its ledger series (summed over the replicas)
                "llm_scope:budget_spend:ratio_period": 7,
                "llm_feature:cost_usd:rate5m": 3,
                "llm_tenant:cost_usd:rate1h": 2,
                "llm_model:requests:share_rate30m": 3,
                "llm_feature:cache_hit_ratio:ratio_rate30m": 3,
                "llm_model:request_duration_seconds:p95_rate5m": 3,
                "llm_feature:request_input_tokens:p95_rate1h": 3,
                "llm:alert_threshold:spend_spike_ratio": 1,
            }
            for q, n in expect.items():
                got = count(q)
                print(f"{q}: {got} series (want {n})")
                if got != n:
                    failures.append(f"{q} has {got} series, want {n}")
            # Both replicas are summed: at the recorded sample's own timestamp the
            # feature's spend is twice what one replica reports. (The absolute
            # value is still ramping up: a 5m rate over a series younger than 5m
            # underestimates.)
            chat = prom.query('llm_feature:cost_usd:rate5m{feature="chat"}')
            if not chat:
                failures.append("no llm_feature:cost_usd:rate5m for feature chat")
            else:
                ts, v = chat[0]["value"][0], float(chat[0]["value"][1])
                one = prom.query('sum(rate(llm_cost_usd_total{feature="chat",job="llm-cost-exporter"}[5m]))', at=ts)
                ratio = v / float(one[0]["value"][1]) if one and float(one[0]["value"][1]) > 0 else 0
                print(f"chat spend {v:.5f} USD/s = {ratio:.3f} x one replica (want 2)")
                if not 1.5 < ratio < 2.5:  # scrapes of the two jobs are not simultaneous
                    failures.append(f"chat spend is {ratio:.3f}x one replica, want 2 (replicas not summed?)")
            failing = prom.query("sum(prometheus_rule_evaluation_failures_total)")
            if failing and float(failing[0]["value"][1]) != 0:
                failures.append(f"prometheus_rule_evaluation_failures_total = {failing[0]['value'][1]}")
            firing = [a for a in prom.alerts() if a["state"] == "firing"]
            for a in firing:
                failures.append(f"alert firing on steady, in-budget traffic: {a['labels']}")
    finally:
        prom.stop(timeout=15)
        server.shutdown()
        if failures:
            print("--- prometheus log (tail) ---\n" + prom.log_tail(30))
        prom.close()
    for f in failures:
        print("FAIL: " + f)
    print("PASS" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
