#!/usr/bin/python3
"""Runs every PromQL expression of every dashboard against a real Prometheus that
scrapes the real exporter, and checks that each query succeeds and that every panel
(except the short EXEMPT list below) returns data.

    live_queries.py --exporter build/exporter/llm-cost-exporter --source-dir .

What it does, all on 127.0.0.1 with free ports and a temp dir, bounded in time:
  1. checks the project's rule files (prometheus/rules/*.yml) with promtool;
  2. starts the exporter (test config with budgets and a small route cap) and
     Prometheus (1 s scrape and rule evaluation, the project's rule files);
  3. adds one always-firing test alert (for the "Firing alerts" panel);
     POSTs realistic events for --feed-seconds (several models, features, tenants,
     cache reads and writes, 429/529s, TTFT, an unknown model, some invalid events,
     a few UDP datagrams), so that rate() has many samples;
  4. runs each panel query twice, with every template variable set to All (".*")
     and to one sample value each, as instant or range query as the panel does;
  5. runs the template variables' label_values() queries.
Every process it starts is stopped by pid on exit, on failure and if this script
is killed (PR_SET_PDEATHSIG): tests/lib starts them. Standard library + python3-yaml.
"""
import argparse
import glob
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

import yaml  # python3-yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from exporter_process import Exporter  # noqa: E402
from http_client import http  # noqa: E402
from processes import stop_all, tail  # noqa: E402
from prometheus_server import Prometheus, scrape_job  # noqa: E402

# Panels allowed to return no data, with the reason. Keep this short: every entry
# is a panel whose query this test cannot prove useful.
# "Firing alerts" gets a firing alert from TEST_ALERT_RULES (the project's alerts
# need hours of history and must not fire on healthy traffic).
# The reconciliation panels need an exporter polling an Admin API: their series are
# tested against a fake Admin API in tests/reconcile (reconcile.live).
_RECONCILE = "reconciliation series need --reconcile.admin-key-file (tested in reconcile.live)"
EXEMPT = {("llm-cost-exporter-health", t): _RECONCILE for t in (
    "Billed drift by model", "Billed cost by model, month to date (settled)", "Billing polls by result")}

# An always-firing alert named like the project's alerts (LLM...), so that the
# "Firing alerts" panel's query is shown to find firing alerts.
TEST_ALERT_RULES = {"groups": [{"name": "grafana-dashboard-test", "rules": [
    {"alert": "LLMDashboardLiveTest", "expr": "vector(1)",
     "labels": {"severity": "info"}}]}]}

# Sample values for the "one value selected" pass: a combination the feed below
# always produces, with cache reads, TTFT and 429s.
SAMPLE = {"provider": "anthropic", "model": "claude-sonnet-4-5", "feature": "chat",
          "tenant": "acme", "instance": ".*"}

# Concrete values for Grafana's built-in variables. $__rate_interval is at least
# 4 scrape intervals in Grafana; 1m covers the feed with a 1 s scrape.
BUILTINS = {"__rate_interval": "1m", "__range": "5m", "__interval": "15s",
            "__range_s": "300", "__interval_ms": "15000"}

MODELS = [  # (model id as a client sends it, weight)
    ("claude-sonnet-4-5-20250929", 5),
    ("claude-haiku-4-5", 4),
    ("claude-opus-4-6", 2),
]
FEATURES = ["chat", "search", "summarize"]
TENANTS = ["acme", "globex", "initech"]
ROUTES = ["/api/chat", "/api/search", "/api/summary", "/api/export", "/api/admin",
          "/api/batch"]  # 6 values against a test cap of 4: forces label overflow
TEST_CONFIG = """\
labels:
  attribution: [feature, tenant, route]
  histogram_label: feature
  max_values:
    route: 4
budgets:
  - {scope: global, period: month, usd: 5000}
  - {scope: global, period: day, usd: 250}
  - {scope: "tenant:acme", period: month, usd: 1000}
"""


class Failure(Exception):
    pass


JSON = {"Content-Type": "application/json"}


def log(msg):
    print(msg, flush=True)


# Events ---------------------------------------------------------------------
def make_event(rng, model=None, feature=None, tenant=None, status=200, stream=None):
    model = model or rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
    stream = rng.random() < 0.6 if stream is None else stream
    ok = status == 200
    cache_read = rng.choice([0, 0, 12000, 28430, 60000]) if ok else 0
    write5 = rng.choice([0, 0, 0, 4096]) if ok else 0
    write1h = rng.choice([0, 0, 0, 0, 2048]) if ok else 0
    ev = {
        "model": model,
        "usage": {
            "input_tokens": rng.randint(200, 9000) if ok else 0,
            "output_tokens": rng.randint(20, 2500) if ok else 0,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": write5 + write1h,
            "cache_creation": {"ephemeral_5m_input_tokens": write5,
                               "ephemeral_1h_input_tokens": write1h},
            "service_tier": "standard",
        },
        "latency_ms": rng.randint(300, 20000) if ok else rng.randint(50, 400),
        "status": status,
        "error_type": {429: "rate_limit_error", 529: "overloaded_error"}.get(status),
        "labels": {"feature": feature or rng.choice(FEATURES),
                   "tenant": tenant or rng.choice(TENANTS),
                   "route": rng.choice(ROUTES)},
        "request_id": f"msg_{rng.getrandbits(48):012x}",
    }
    if stream and ok:
        ev["ttft_ms"] = rng.randint(150, 3000)
    return ev


def feed(ingest, seconds, rng, procs):
    """POSTs batches every 0.5 s. Returns totals of what the exporter accepted, for
    the value checks: requests, tokens, cache-read and input-side tokens."""
    url = f"http://127.0.0.1:{ingest}/v1/events"
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    accepted = 0
    sent = {"requests": 0, "tokens": 0, "cache_read": 0, "input_side": 0}

    def count(events):
        for e in events:
            if not e.get("model"):
                continue
            u = e["usage"]
            side = (u["input_tokens"] + u["cache_read_input_tokens"] +
                    u["cache_creation_input_tokens"])
            sent["requests"] += 1
            sent["tokens"] += side + u["output_tokens"]
            sent["cache_read"] += u["cache_read_input_tokens"]
            sent["input_side"] += side
    deadline = time.monotonic() + seconds
    rounds = 0
    try:
        while time.monotonic() < deadline and rounds < 4 * seconds:
            rounds += 1
            for p in procs:
                p.check_alive()  # RuntimeError with the log tail if it exited
            batch = [make_event(rng) for _ in range(8)]
            # The sample selection gets a cached, streamed success and a 429 every
            # round, so the one-value pass has data in every panel.
            batch.append(make_event(rng, "claude-sonnet-4-5-20250929", "chat", "acme",
                                    stream=True))
            batch[-1]["usage"]["cache_read_input_tokens"] = 30000
            batch.append(make_event(rng, "claude-sonnet-4-5-20250929", "chat", "acme",
                                    status=429))
            if rounds % 3 == 0:
                batch.append(make_event(rng, status=529))
                batch.append(make_event(rng, model="claude-future-9-20270101"))  # unpriced
                batch.append({"usage": {"input_tokens": 5}})  # rejected: missing_model
            if rounds % 2:
                status, body = http("POST", url, json.dumps(batch).encode(), JSON, timeout=5)
            else:  # NDJSON, the other batch form
                status, body = http("POST", url, "\n".join(json.dumps(e) for e in batch).encode(),
                                    {"Content-Type": "application/x-ndjson"}, timeout=5)
            if status != 202:
                raise Failure(f"POST /v1/events answered {status}: {body[:300]!r}")
            result = json.loads(body)
            valid = [e for e in batch if e.get("model")]
            if result.get("accepted") != len(valid):
                raise Failure(f"exporter accepted {result.get('accepted')} of {len(valid)} "
                              f"valid events: {body[:300]!r}")
            accepted += len(valid)
            count(valid)
            if rounds % 4 == 0:
                http("POST", url, b'{"model": "claude-haiku-4-5", "usage": ', JSON, timeout=5)  # malformed
                ev = make_event(rng)
                udp.sendto(json.dumps(ev).encode(), ("127.0.0.1", ingest))
                count([ev])  # loopback UDP: not lost unless the exporter is broken
            time.sleep(0.5)
    finally:
        udp.close()
    return accepted, sent


# Dashboards -----------------------------------------------------------------
def substitute(expr, values):
    def repl(m):
        name = m.group(1) or m.group(2)
        if name in BUILTINS:
            return BUILTINS[name]
        if name in values:
            return values[name]
        raise Failure(f"no value for ${name} in {expr}")
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


def collect(paths):
    """Returns dashboards as (uid, variables, [(panel title, target, panel)])."""
    out = []
    for path in sorted(paths):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        panels = []
        for p in d.get("panels", []):
            for sub in [p] + (p.get("panels") or []):
                if sub.get("type") in ("row", "text"):
                    continue
                for t in sub.get("targets", []):
                    if t.get("expr"):
                        panels.append((sub.get("title"), t, sub))
        out.append((d["uid"], d.get("templating", {}).get("list", []), panels))
    return out


def variable_values(variables, mode):
    values = {}
    for v in variables:
        name = v.get("name")
        if v.get("type") in ("custom", "constant", "textbox", "interval"):
            cur = v.get("current", {}).get("value")
            values[name] = cur[0] if isinstance(cur, list) else str(cur)
        elif v.get("type") == "query":
            values[name] = ".*" if mode == "all" else SAMPLE.get(name, ".*")
    return values


def prom_query(prom, expr, instant, now):
    if instant:
        params = {"query": expr, "time": f"{now:.3f}"}
        path = "query"
    else:
        params = {"query": expr, "start": f"{now - 40:.3f}", "end": f"{now:.3f}",
                  "step": "5"}
        path = "query_range"
    status, body = prom.request(f"/api/v1/{path}", params, method="POST", timeout=10)
    doc = json.loads(body)
    if status != 200 or doc.get("status") != "success":
        return None, doc.get("error", body[:300])
    result = doc["data"]["result"]
    if doc["data"]["resultType"] == "scalar":
        return 1, None
    if instant:
        n = len(result)
    else:
        n = sum(1 for s in result if s.get("values"))
    return n, None


def check_variable(prom, query, now):
    m = re.match(r"^\s*label_values\((.*),\s*(\w+)\)\s*$", query)
    if not m:
        raise Failure(f"unsupported variable query {query}")
    selector, label = m.groups()
    status, body = prom.request("/api/v1/series", {"match[]": selector, "start": f"{now - 60:.0f}",
                                                   "end": f"{now:.0f}"})
    doc = json.loads(body)
    if status != 200 or doc.get("status") != "success":
        return None, doc.get("error")
    return len({s.get(label) for s in doc["data"] if s.get(label)}), None


# Panels whose value must match what the test sent: (uid, title, refId) -> key of
# the totals from feed() (a ratio for tuples). The tolerance covers increase()'s
# extrapolation to the window end (a few %), not a wrong selector or double count.
VALUE_CHECKS = {
    ("llm-cost-chargeback", "Requests", "A"): "requests",
    ("llm-cost-chargeback", "Tokens", "A"): "tokens",
    ("llm-cost-overview", "Cache hit ratio", "A"): ("cache_read", "input_side"),
}
TOLERANCE = 0.08


def check_values(prom, dashboards, sent, now):
    failures = []
    found = set()
    for uid, variables, panels in collect(dashboards):
        for title, t, _ in panels:
            key = (uid, title, t.get("refId"))
            if key not in VALUE_CHECKS:
                continue
            found.add(key)
            want = VALUE_CHECKS[key]
            expected = sent[want[0]] / sent[want[1]] if isinstance(want, tuple) else sent[want]
            expr = substitute(t["expr"], variable_values(variables, "all"))
            _, body = prom.request("/api/v1/query", {"query": expr, "time": f"{now:.3f}"}, method="POST")
            result = json.loads(body)["data"]["result"]
            got = float(result[0]["value"][1]) if len(result) == 1 else None
            ok = got is not None and abs(got - expected) <= TOLERANCE * expected
            log(f"{'ok  ' if ok else 'BAD '} value {uid} / {title}: got {got}, "
                f"sent {expected:.6g}")
            if not ok:
                failures.append(f"{uid} / {title}: value {got}, expected {expected:.6g} "
                                f"(+-{TOLERANCE:.0%}) from the events sent\n    {expr}")
    for key in set(VALUE_CHECKS) - found:
        failures.append(f"value check target {key} not found in the dashboards")
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exporter", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    ap.add_argument("--promtool", default="/usr/bin/promtool")
    ap.add_argument("--feed-seconds", type=int, default=25)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    src = os.path.abspath(args.source_dir)
    dashboards = glob.glob(os.path.join(src, "grafana", "dashboards", "*.json"))
    rule_files = sorted(glob.glob(os.path.join(src, "prometheus", "rules", "*.yml")))
    for tool in (args.exporter, args.prometheus, args.promtool):
        if not os.access(tool, os.X_OK):
            log(f"FAIL: {tool} is missing or not executable")
            return 1
    if not dashboards:
        log("FAIL: no dashboards found")
        return 1

    exporter = Exporter(args.exporter, os.path.join(src, "exporter", "pricing", "prices.yml"), TEST_CONFIG)
    prom = Prometheus(args.prometheus, flags=["--storage.tsdb.retention.time=1h", "--log.level=warn"],
                      api_timeout=5)
    # ctest sends SIGTERM on timeout: turn it into the normal cleanup path.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    failures = []
    try:
        if rule_files:
            r = subprocess.run([args.promtool, "check", "rules", *rule_files],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise Failure(f"promtool check rules failed:\n{r.stdout}{r.stderr}")
            log(f"promtool: {len(rule_files)} rule file(s) OK: "
                f"{', '.join(os.path.basename(f) for f in rule_files)}")

        exporter.start(timeout=15)
        log(f"started exporter pid {exporter.proc.pid}")
        test_rules = prom.write_file("test-alert.yml", json.dumps(TEST_ALERT_RULES))
        prom.start({"scrape_configs": [scrape_job("llm-cost-exporter", f"127.0.0.1:{exporter.web_port}")]},
                   rule_files + [test_rules], "1s", "1s", timeout=30)
        log(f"started prometheus pid {prom.proc.pid}")

        # All rule groups loaded (a group that failed to load would be missing).
        groups = prom.rules()
        want = len(TEST_ALERT_RULES["groups"])
        for rf in rule_files:
            with open(rf) as f:
                want += len((yaml.safe_load(f) or {}).get("groups") or [])
        if len(groups) != want:
            raise Failure(f"Prometheus loaded {len(groups)} rule groups, files define {want}")

        rng = random.Random(args.seed)
        accepted, sent = feed(exporter.ingest_port, args.feed_seconds, rng, (exporter.proc, prom.proc))
        log(f"fed {accepted} accepted events over {args.feed_seconds}s")
        time.sleep(3)  # two more scrapes and rule evaluations
        exporter.proc.check_alive()
        prom.proc.check_alive()

        # Rules that fail to evaluate are broken in a way promtool cannot see.
        for g in prom.rules():
            for r in g["rules"]:
                if r.get("health") == "err":
                    failures.append(f"rule {r.get('name')} in {g['name']}: {r.get('lastError')}")

        now = time.time()
        ran = 0
        seen = set()
        results = {}
        for uid, variables, panels in collect(dashboards):
            for v in variables:
                if v.get("type") != "query":
                    continue
                q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
                for mode in ("all", "sample"):
                    n, err = check_variable(prom, substitute(q, variable_values(variables, mode)), now)
                    if err or not n:
                        failures.append(f"{uid} variable {v['name']} ({mode}): "
                                        f"{err or 'no values'}")
            for title, t, panel in panels:
                instant = bool(t.get("instant")) and not t.get("range")
                for mode in ("all", "sample"):
                    expr = substitute(t["expr"], variable_values(variables, mode))
                    if (uid, title, t.get("refId"), expr) in seen:
                        continue  # health panels have no filters: same query twice
                    seen.add((uid, title, t.get("refId"), expr))
                    if (expr, instant) not in results:  # same query, other panel
                        results[(expr, instant)] = prom_query(prom, expr, instant, now)
                        ran += 1
                    n, err = results[(expr, instant)]
                    where = f"{uid} / {title} / {t.get('refId')} ({mode})"
                    if err:
                        failures.append(f"{where}: query error: {err}\n    {expr}")
                    elif not n and (uid, title) not in EXEMPT:
                        failures.append(f"{where}: no data\n    {expr}")
                    log(f"{'ok  ' if n else 'EMPTY' if not err else 'ERR '} {where}: "
                        f"{n or 0} series")
        failures += check_values(prom, dashboards, sent, now)
        log(f"ran {ran} distinct queries from {len(dashboards)} dashboards; "
            f"exempt from the data check: {sorted(t for _, t in EXEMPT)}")
    except (Failure, RuntimeError) as e:  # RuntimeError: a process did not start or exited
        failures.append(str(e))
    finally:
        stop_all([prom.proc, exporter.proc], timeout=5)
        if failures:
            log(f"--- exporter.log (tail) ---\n{tail(exporter.log_path, 30)}")
            log(f"--- prometheus.log (tail) ---\n{prom.log_tail(30)}")
        exporter.close()
        prom.close()

    for f in failures:
        log(f"FAIL: {f}")
    log("PASS" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
