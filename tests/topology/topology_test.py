#!/usr/bin/python3
"""Production topology with real components on 127.0.0.1 (issue 18, docs/scaling.md):

  3 exporter replicas (the built binary, shipped config with budgets x10,
    --storage.path each) <- HTTP events split round-robin, replica 1 restarted
    (SIGTERM, start again on the same ports) mid-run;
  2 Prometheus agents (Debian prometheus, --enable-feature=agent), shards: agent a
    scrapes replicas 0 and 1, agent b replica 2, each remote_write-ing with its own
    external label into
  1 central Prometheus (--web.enable-remote-write-receiver), the stand-in for a
    Mimir or Thanos ruler: it evaluates the shipped prometheus/rules/*.yml plus a
    time-scaled copy of LLMSpendSpike (tests/e2e/stack.py short_window_variant,
    windows / DIVISOR) and sends to
  1 Alertmanager with the shipped alertmanager.yml (receivers pointed at a
    recorder, tests/lib).

Asserts:
  - the central Prometheus' totals equal what was sent: per replica (instance)
    requests and USD, summed over replicas (exact, counters survive the restart
    through --storage.path), the chargeback dashboard's "Total cost"/"Requests"
    expressions over the run (increase(): within one scrape interval's
    extrapolation), the month-to-date spend rule (ledgers summed) exactly, and the
    budget rule taking the gauge every replica exports once;
  - the spike page (LLMSpendSpike, time-scaled) arrives at the webhook once, within
    60 s of the spike's first event, through scrape -> remote_write -> rules ->
    Alertmanager;
  - no page before the spike, in particular none around the replica restart;
  - an exporter config with a budget no rule covers (route:) refuses to start,
    naming the budget.
Expected money is computed here from claude-haiku-4-5's per-million rates
($1 input, $5 output). Prints the measured figures as one JSON line.

usage: topology_test.py   (env BUILD_DIR: the CMake build dir)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from alertmanager_server import ALERTMANAGER, Alertmanager, route_receivers_to  # noqa: E402
from exporter_process import Exporter  # noqa: E402
from http_client import http  # noqa: E402
from prometheus_server import PROMETHEUS, Prometheus  # noqa: E402
from stack import short_window_variant, thresholds_override  # noqa: E402
from webhook_recorder import Recorder  # noqa: E402

BUILD = os.environ.get("BUILD_DIR", os.path.join(REPO, "build"))
EXPORTER = os.path.join(BUILD, "exporter", "llm-cost-exporter")
PRICES = os.path.join(REPO, "exporter", "pricing", "prices.yml")

REPLICAS = 3
DIVISOR = 20          # LLMSpendSpike's 5m windows and offsets -> 15 s, its 1d baseline -> 72 min
INTERVAL = "1s"       # agents' scrape, central evaluation
TICK = 0.5            # s between sends
STEADY_PER_TICK = 2   # events per replica per tick: 12 events/s in all
SPIKE_MULT = 30       # chat's events per tick during the spike: about 30 x its steady rate
WARMUP = 55           # s of steady traffic before the spike (baseline: ~30 s + 10 samples)
RESTART_AT = 18       # s into the run: replica 1 stops...
RESTART_DOWN = 3      # ...for this long, then starts again on the same ports
SPIKE_BOUND = 60      # s: the page must arrive within this of the spike's first event
SPIKE_LEN = 40        # s of spike traffic at most (stops at the page)
FEATURE = "chat"
IN_TOK, OUT_TOK = 1200, 300
USD_PER_EVENT = IN_TOK * 1 / 1e6 + OUT_TOK * 5 / 1e6  # claude-haiku-4-5: $1 / $5 per MTok
BUDGET_SCALE = 10     # the shipped example budgets x10, as e2e's spike stack: the burn-rate
                      # page must not be what pages here

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("topology: FAIL: " + msg, flush=True)


def event(feature, tenant):
    return {"model": "claude-haiku-4-5", "usage": {"input_tokens": IN_TOK, "output_tokens": OUT_TOK},
            "labels": {"feature": feature, "tenant": tenant, "route": "/" + feature}}


class Agent(Prometheus):
    """Prometheus in agent mode: no TSDB, no rules; scrapes and remote_writes."""

    name = "agent"

    def start(self, config, timeout=60):
        return self._run(config, ["--enable-feature=agent",
                                  "--config.file=%s" % self.config_file,
                                  "--storage.agent.path=%s" % os.path.join(self.dir, "wal"),
                                  "--web.listen-address=%s" % self.address], timeout)


class Sender(threading.Thread):
    """Sends batches of events round-robin over the replicas every TICK; a batch a
    replica refuses (down) goes to the next live one, as a load balancer would.
    Counts accepted events per replica and the spike's first event time."""

    def __init__(self, exporters):
        super().__init__(daemon=True)
        self.exporters = exporters
        self.sent = [0] * len(exporters)
        self.stop_flag = threading.Event()
        self.spike = threading.Event()
        self.spike_mono = None
        self.rerouted = 0
        self.errors = []

    def post(self, i, batch):
        for k in range(len(self.exporters)):
            j = (i + k) % len(self.exporters)
            try:
                status, _ = http("POST", self.exporters[j].ingest + "/v1/events", json.dumps(batch).encode(),
                                 {"Content-Type": "application/json"}, timeout=5)
            except (OSError, urllib.error.URLError):
                status = None
            if status == 202:
                self.sent[j] += len(batch)
                if k:
                    self.rerouted += len(batch)
                return
        self.errors.append("batch of %d refused by every replica" % len(batch))

    def run(self):
        next_t = time.monotonic()
        n = 0
        while not self.stop_flag.is_set():
            spiking = self.spike.is_set()
            if spiking and self.spike_mono is None:
                self.spike_mono = time.monotonic()
            for i in range(len(self.exporters)):
                # Each replica's clients: one tenant, features chat and search; the
                # spike is feature chat only, on label sets that exist since the
                # start (so the dashboards' increase() extrapolates little).
                tenant = ("acme", "globex", "initech")[i % 3]
                batch = [event(FEATURE if k % 2 == 0 else "search", tenant) for k in range(STEADY_PER_TICK)]
                if spiking:
                    batch += [event(FEATURE, tenant)] * (STEADY_PER_TICK * (SPIKE_MULT - 1))
                self.post(i, batch)
                n += len(batch)
            next_t += TICK
            time.sleep(max(0.0, next_t - time.monotonic()))


def dashboard_expr(dashboard, title, rng):
    """The shipped panel's query with every variable at "All" and the time range
    `rng`."""
    with open(os.path.join(REPO, "grafana", "dashboards", dashboard)) as f:
        panels = [p for p in json.load(f)["panels"] if p.get("title") == title]
    if len(panels) != 1:
        raise RuntimeError("%s: %d panels titled %r" % (dashboard, len(panels), title))
    expr = panels[0]["targets"][0]["expr"]
    expr = re.sub(r'=~"\$\w+"', '=~".*"', expr).replace("$__range", rng)
    if "$" in expr:
        raise RuntimeError("%s %r: unresolved variable in %s" % (dashboard, title, expr))
    return expr


def refuses_uncovered_budget(tmp):
    cfg = os.path.join(tmp, "route-budget.yml")
    with open(cfg, "w") as f:
        f.write("budgets:\n  - {scope: 'route:/api/chat', period: month, usd: 10}\n")
    r = subprocess.run([EXPORTER, "--config.file=" + cfg, "--web.listen-address=127.0.0.1:0",
                        "--ingest.listen-address=", "--udp.listen-address=", "--otlp.listen-address="],
                       capture_output=True, text=True, timeout=20)
    out = r.stdout + r.stderr
    check(r.returncode != 0, "exporter started with a route: budget no rule covers")
    check("route:/api/chat" in out and "no alert rule covers" in out,
          "start-up error does not name the uncovered budget: %s" % out.strip()[-300:])


def main():
    t0 = time.monotonic()
    tmp = tempfile.TemporaryDirectory(prefix="llm-topology-")
    refuses_uncovered_budget(tmp.name)

    with open(os.path.join(REPO, "exporter", "config", "llm-cost-exporter.yml")) as f:
        exp_cfg = yaml.safe_load(f)
    for b in exp_cfg["budgets"]:
        b["usd"] *= BUDGET_SCALE
    exporters, agents, procs = [], [], []
    recorder = Recorder(os.path.join(tmp.name, "notifications.jsonl"))
    sender = None
    result = {}
    try:
        for i in range(REPLICAS):
            state = os.path.join(tmp.name, "state-%d" % i)
            e = Exporter(EXPORTER, PRICES, config_text=yaml.safe_dump(exp_cfg),
                         extra_args=["--storage.path=" + state])
            exporters.append(e.start())

        am = Alertmanager(ALERTMANAGER, os.path.join(tmp.name, "alertmanager"))
        procs.append(am)
        with open(os.path.join(REPO, "alertmanager", "alertmanager.yml")) as f:
            am_cfg = yaml.safe_load(f)
        route_receivers_to(am_cfg, recorder.url, am.dir, "topology-key", os.path.join(REPO, "alertmanager"))
        am.start(am_cfg, timeout=30)

        central = Prometheus(PROMETHEUS, os.path.join(tmp.name, "central"),
                             ["--web.enable-remote-write-receiver"])
        procs.append(central)
        overlay = central.write_file("overlay/topology-short-windows.yml",
                                     short_window_variant("LLMSpendSpike", DIVISOR, suffix=":topology"))
        central.write_file("overlay/topology-thresholds.yml", thresholds_override(
            {"spend_spike_min_baseline_samples": 10}, group="topology-threshold-overrides"))
        rule_files = [os.path.join(REPO, "prometheus", "rules", "*.yml"), os.path.join(central.dir, "overlay", "*.yml")]
        central.start({"global": {"scrape_interval": INTERVAL, "evaluation_interval": INTERVAL},
                       "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am.address]}]}]},
                       "scrape_configs": []}, rule_files, timeout=60)
        loaded = {g["file"] for g in central.rules()}
        check(any(f.endswith("/prometheus/rules/incidents.yml") for f in loaded), "shipped rules not loaded")
        check(overlay in loaded, "time-scaled LLMSpendSpike not loaded")

        shards = {"a": [0, 1], "b": [2]}
        for name, idx in shards.items():
            ag = Agent(PROMETHEUS, os.path.join(tmp.name, "agent-" + name))
            procs.append(ag)
            ag.start({"global": {"scrape_interval": INTERVAL, "external_labels": {"prometheus": "agent-" + name}},
                      "scrape_configs": [{"job_name": "llm-cost-exporter", "static_configs": [
                          {"targets": ["127.0.0.1:%d" % exporters[i].web_port for i in idx]}]}],
                      "remote_write": [{"url": central.url + "/api/v1/write",
                                        "queue_config": {"batch_send_deadline": "1s", "min_backoff": "100ms",
                                                         "max_backoff": "1s"}}]})
            agents.append(ag)

        sender = Sender(exporters)
        start_mono = time.monotonic()
        start_unix = time.time()
        sender.start()

        # Replica 1 restarts (graceful: its state file keeps every counter).
        time.sleep(max(0.0, start_mono + RESTART_AT - time.monotonic()))
        restart_mono = time.monotonic()
        code = exporters[1].stop()
        check(code == 0, "replica 1 exited %s on SIGTERM" % code)
        time.sleep(RESTART_DOWN)
        exporters[1].start()
        up_again_mono = time.monotonic()

        time.sleep(max(0.0, start_mono + WARMUP - time.monotonic()))
        early = [a for m, _, st, a in recorder.webhook_alerts()
                 if st == "firing" and a.get("labels", {}).get("severity") == "page"]
        check(not early, "page before the spike (the restart was at %.0f-%.0f s): %s" % (
            restart_mono - start_mono, up_again_mono - start_mono,
            [a["labels"].get("alertname") for a in early]))

        sender.spike.set()
        while sender.spike_mono is None:
            time.sleep(0.05)
        spike_mono = sender.spike_mono
        got = recorder.wait_for(lambda a: a.get("labels", {}).get("alertname") == "LLMSpendSpike"
                                and a["labels"].get("severity") == "page",
                                min(spike_mono + SPIKE_BOUND + 10, spike_mono + SPIKE_LEN + 30))
        if got is None:
            check(False, "no LLMSpendSpike page within %d s of the spike" % (SPIKE_BOUND + 10))
            delay = None
        else:
            delay = got[0] - spike_mono
            check(delay <= SPIKE_BOUND, "spike page after %.1f s > %d s" % (delay, SPIKE_BOUND))
            check(got[1]["labels"].get("feature") == FEATURE, "spike page for %s" % got[1]["labels"])
        sender.spike.clear()
        sender.stop_flag.set()
        sender.join(10)
        end_traffic_unix = time.time()
        check(not sender.errors, "sender: %s" % sender.errors[:3])

        # A few more evaluations: the page must not be re-sent (one firing
        # notification for the alert; resolved ones are not pages).
        time.sleep(5)
        fired = [(m, a) for m, _, st, a in recorder.webhook_alerts()
                 if st == "firing" and a["labels"].get("alertname") == "LLMSpendSpike"]
        check(len(fired) == 1, "%d LLMSpendSpike page notifications, want 1" % len(fired))
        other_pages = sorted({a["labels"].get("alertname") for m, _, st, a in recorder.webhook_alerts()
                              if st == "firing" and a["labels"].get("severity") == "page"
                              and a["labels"].get("alertname") != "LLMSpendSpike"})
        check(not other_pages, "other pages: %s" % other_pages)

        # Totals at the central Prometheus once the last scrape has been written.
        expected_requests = sum(sender.sent)
        expected_usd = expected_requests * USD_PER_EVENT
        per_instance = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = central.query("sum by (instance) (llm_requests_total)")
            per_instance = {r["metric"]["instance"]: float(r["value"][1]) for r in rows}
            if sum(per_instance.values()) >= expected_requests:
                break
            time.sleep(1)
        want = {"127.0.0.1:%d" % e.web_port: n for e, n in zip(exporters, sender.sent)}
        check(per_instance == {k: float(v) for k, v in want.items()},
              "requests per replica at the central Prometheus %s, sent %s" % (per_instance, want))
        usd = central.scalar("sum(llm_cost_usd_total)")
        check(usd is not None and abs(usd - expected_usd) <= 1e-9 * max(1.0, expected_usd),
              "USD at the central Prometheus %s, sent %.6f" % (usd, expected_usd))
        usd_by_instance = {r["metric"]["instance"]: float(r["value"][1])
                           for r in central.query("sum by (instance) (llm_cost_usd_total)")}
        for inst, n in want.items():
            check(abs(usd_by_instance.get(inst, -1) - n * USD_PER_EVENT) <= 1e-9 * max(1.0, n * USD_PER_EVENT),
                  "USD of %s: %s, sent %.6f" % (inst, usd_by_instance.get(inst), n * USD_PER_EVENT))
        # Budgets are taken once (every replica exports the same gauge, through two
        # agents), the spend ledgers are summed over replicas (the rules' values).
        month_budget = [b["usd"] for b in exp_cfg["budgets"] if b["scope"] == "global" and b["period"] == "month"][0]
        got_budget = central.scalar('llm_scope:budget_usd:month{scope="global"}')
        check(got_budget == month_budget, "llm_scope:budget_usd:month{scope=\"global\"} = %s, configured %s "
              "(on each of %d replicas)" % (got_budget, month_budget, REPLICAS))
        ledger = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ledger = central.scalar('llm_scope:spend_usd:period_to_date{scope="global", period="month"}')
            if ledger is not None and abs(ledger - expected_usd) <= 1e-9 * max(1.0, expected_usd):
                break
            time.sleep(1)
        check(ledger is not None and abs(ledger - expected_usd) <= 1e-9 * max(1.0, expected_usd),
              "month-to-date spend (ledgers summed over replicas) %s, sent %.6f" % (ledger, expected_usd))
        # The overview dashboard's totals (increase over the time range).
        rng = "%ds" % int(time.time() - start_unix + 30)
        dash_usd = central.scalar(dashboard_expr("llm-cost-chargeback.json", "Total cost", rng))
        dash_req = central.scalar(dashboard_expr("llm-cost-chargeback.json", "Requests", rng))
        # increase() extrapolates each series by up to 1.1 average scrape intervals
        # past its last sample: about 1.1 s / (its ~70 s of samples) above the
        # exact total; twice that for scrape jitter on a loaded machine.
        tol = 2 * 1.1 * 1.0 / (time.time() - start_unix - 5)
        check(dash_req is not None and expected_requests <= dash_req + 1e-6 <= expected_requests * (1 + tol) + 1e-6,
              "dashboard Requests %s, sent %d (tolerance +%.1f%%)" % (dash_req, expected_requests, 100 * tol))
        check(dash_usd is not None and expected_usd <= dash_usd + 1e-9 <= expected_usd * (1 + tol) + 1e-9,
              "dashboard Total cost %s, sent %.4f (tolerance +%.1f%%)" % (dash_usd, expected_usd, 100 * tol))
        # The agents' shards arrive with their external labels, each replica once.
        srcs = {r["metric"].get("prometheus"): float(r["value"][1])
                for r in central.query("count by (prometheus) (up{job=\"llm-cost-exporter\"})")}
        check(srcs == {"agent-a": 2.0, "agent-b": 1.0}, "scrape targets per agent at the central: %s" % srcs)

        result = {"events_sent_per_replica": dict(zip(want, sender.sent)),
                  "requests_at_central_per_replica": per_instance,
                  "usd_sent": round(expected_usd, 6), "usd_at_central": usd,
                  "month_to_date_ledger_usd": ledger, "global_month_budget": got_budget,
                  "dashboard_requests": dash_req, "dashboard_usd": dash_usd,
                  "rerouted_during_restart": sender.rerouted,
                  "spike_page_delay_s": None if delay is None else round(delay, 1),
                  "llm_spend_spike_notifications": len(fired),
                  "traffic_s": round(end_traffic_unix - start_unix, 1),
                  "wall_s": round(time.monotonic() - t0, 1)}
    finally:
        if sender is not None:
            sender.stop_flag.set()
        for p in agents + procs[::-1]:
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - stopping everything we started
                pass
        for e in exporters:
            e.close()
        recorder.close()
        if failures:
            for p in procs + agents:
                print("--- %s log tail ---\n%s" % (p.name, p.log_tail(15)), flush=True)
        tmp.cleanup()
    print("topology: " + json.dumps(result), flush=True)
    print("topology: %d failure(s)" % len(failures), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
