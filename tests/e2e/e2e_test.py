#!/usr/bin/env python3
"""End-to-end tests on the local stack (tests/e2e/stack.py): real exporter, real
Prometheus (5s scrape and evaluation) and Alertmanager, real llm-traffic-gen,
measured in real time.

  e2e_test.py alerts    spike page, no false page, expensive-model share, cache
                        regression, runaway task, retry storm and brand-new feature:
                        seven independent stacks, run concurrently
  e2e_test.py restart   exporter restarted mid-run, with and without --storage.path
  e2e_test.py SCENARIO  one scenario: spike | no-page | expensive-model |
                        cache-regression | runaway | retry-storm | new-feature |
                        restart-persistent | restart-ephemeral

Environment: BUILD_DIR (CMake build dir; default <repo>/build).
Each scenario prints `e2e: ...` result lines and exits non-zero on failure.
"""
import json
import os
import re
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import stack as stk  # noqa: E402

BUILD = os.environ.get("BUILD_DIR") or os.path.join(stk.REPO, "build")

RATE = 5             # steady events/s (all features together)
SPIKE_WARMUP = 680   # s of steady traffic before the spike. LLMSpendSpike's baseline is
                     # the 5m rates of full 5m windows (a feature's first 5 minutes of
                     # rate() ramp up from zero and are left out), taken `offset 5m`, and
                     # the alert needs 10 of them (spend_spike_min_baseline_samples): at
                     # 5s that is 300 + 300 + 10 x 5 = 650 s after the feature's first
                     # 5m rate, which comes up to ~15 s after the generator starts (first
                     # event, scrape, evaluation); + ~15 s margin (docs/e2e.md). The
                     # no-page run has the same warm-up, so it also covers the moment
                     # the baseline becomes usable.
WARMUP = 150         # s of steady traffic before the ticket scenarios: their 1/30
                     # variants need the `offset 2m` baseline (offset 1h / 30)
BUDGET_SCALE = 10    # spike and no-page stacks: the shipped example budgets x 10. At RATE
                     # the generator's tenant "acme" spends ~15-18x the even pace of its
                     # example $1,000/month, so over the 740 s run LLMBudgetBurnRate paged
                     # correctly for it; these two scenarios test the spike alert on
                     # traffic that is within budget (1.5-1.8x pace, below 6x and 14.4x).
SPIKE_MULT = 50      # total rate during the spike = 50 x RATE (a recursive job)
SPIKE_LEN = 60       # s
SPIKE_BOUND = 60     # s: the page must arrive within this of the spike's first event
DIVISOR = 30         # the ticket alerts' windows, offsets and `for` divided by this
TICKET_WAIT = 150    # s after the switch to wait for a ticket-alert notification
NO_PAGE_GRACE = 20   # s after the steady run to keep listening for a (false) page
SEED = "7"


class Failure(Exception):
    pass


def check(cond, msg, failures):
    if not cond:
        failures.append(msg)
        print("e2e: FAIL: " + msg, flush=True)


def pages(rec, before=None):
    return [(m, a) for m, _, st, a in rec.webhook_alerts()
            if st == "firing" and a.get("labels", {}).get("severity") == "page"
            and (before is None or m < before)]


def brief(a):
    return "%s %s" % (a.get("labels", {}).get("alertname"),
                      {k: v for k, v in a.get("labels", {}).items() if k != "alertname"})


# --- scenarios ----------------------------------------------------------------------

def scenario_spike(failures):
    with stk.Stack(BUILD, name="spike", budget_scale=BUDGET_SCALE) as st:
        feature, tenant = "agent", "globex"
        tr = st.traffic("--rate", str(RATE), "--seed", SEED, "--duration", str(SPIKE_WARMUP + SPIKE_LEN),
                        "--spike-at", str(SPIKE_WARMUP), "--spike-duration", str(SPIKE_LEN),
                        "--spike-multiplier", str(SPIKE_MULT), "--spike-feature", feature,
                        "--spike-tenant", tenant, "--spike-model", "claude-opus-4-6")
        spike_mono = tr.start_mono + SPIKE_WARMUP
        # The spike is a recursive job on one task (the generator's runaway-job-<seed>),
        # so two pages are right: LLMRunawayTask (its task passes 12 hops within
        # seconds) and LLMSpendSpike (the feature's spend against its baseline). The
        # first page is usually LLMRunawayTask; what is tested is that each arrives
        # within the bound. They are different alertnames, hence different
        # Alertmanager groups (group_by starts with alertname): the earlier page does
        # not hold the later one back. Listen well past the bound so that a late page
        # is measured, not just missed.
        is_spike = lambda a: (a["labels"].get("severity") == "page"  # noqa: E731
                              and a["labels"].get("alertname") == "LLMSpendSpike")
        got = st.recorder.wait_for(is_spike, spike_mono + SPIKE_BOUND + 30)
        # The job's task passes the hops limit (and, on Opus, the cost limit in the
        # same scrape: both reasons come in one notification); hops is the one tested.
        runaway = st.recorder.wait_for(lambda a: a["labels"].get("alertname") == "LLMRunawayTask"
                                       and a["labels"].get("reason") == "hops",
                                       spike_mono + SPIKE_BOUND + 30)
        early = pages(st.recorder, before=spike_mono)
        check(not early, "page before the spike started: %s" % [brief(a) for _, a in early], failures)
        tr.stop()
        summary = tr.wait(30)
        check(summary["spike_events"] > 0, "generator reports no spike events", failures)
        # Diagnostics: the alert's three conditions per evaluation around the spike.
        spike_unix = tr.start_unix + SPIKE_WARMUP
        zs = {}
        for key, expr in (("ratio", 'llm_feature:cost_usd:rate5m{feature="%s"} / llm_feature:cost_usd:rate5m_avg1d'),
                          ("z", '(llm_feature:cost_usd:rate5m{feature="%s"} - llm_feature:cost_usd:rate5m_avg1d)'
                                ' / llm_feature:cost_usd:rate5m_stddev1d')):
            try:
                r = st.query_api("/api/v1/query_range", query=expr % feature, start="%.3f" % (spike_unix - 10),
                                 end="%.3f" % (spike_unix + 45), step="5")["result"]
                zs[key] = [round(float(v), 2) for _, v in r[0]["values"]] if r else []
            except Exception as e:  # diagnostics only
                zs[key] = str(e)
        print("e2e: spike diagnostics from 10 s before the spike, every 5 s: %s" % zs, flush=True)
        after = sorted((m - spike_mono, brief(a)) for m, a in pages(st.recorder) if m >= spike_mono)
        print("e2e: pages after the spike (s after its first event): %s"
              % [("%.1f" % d, b) for d, b in after], flush=True)
        runaway_delay = None
        if runaway is None:
            check(False, "no LLMRunawayTask{reason=\"hops\"} notification within %d s of the spike (its job is "
                  "one task of thousands of hops)" % (SPIKE_BOUND + 30), failures)
        else:
            runaway_delay = runaway[0] - spike_mono
            ra = runaway[1]["labels"]
            print("e2e: spike LLMRunawayTask page after %.1f s (%s)" % (runaway_delay, brief(runaway[1])), flush=True)
            check(ra.get("severity") == "page" and ra.get("feature") == feature and ra.get("reason") == "hops",
                  "runaway page %s is not severity=page feature=%s reason=hops" % (brief(runaway[1]), feature),
                  failures)
            check(0 < runaway_delay <= SPIKE_BOUND, "LLMRunawayTask page after %.1f s, not within (0, %d] s"
                  % (runaway_delay, SPIKE_BOUND), failures)
        if got is None:
            check(False, "no LLMSpendSpike page within %d s of the spike" % (SPIKE_BOUND + 30), failures)
            print(st.logs())
            return {}
        mono, a = got
        delay = mono - spike_mono
        print("e2e: spike page after %.1f s (%s)" % (delay, brief(a)), flush=True)
        labels, ann = a["labels"], a.get("annotations", {})
        check(delay <= SPIKE_BOUND, "spike page after %.1f s > %d s" % (delay, SPIKE_BOUND), failures)
        check(delay > 0, "page arrived before the spike", failures)
        check(labels.get("feature") == feature, "page scope feature=%r, expected %r" % (labels.get("feature"), feature),
              failures)
        if labels.get("tenant") != tenant:
            print("e2e: NOTE: the spike page carries no tenant label (LLMSpendSpike is per feature); "
                  "labels: %s" % sorted(labels), flush=True)
        # Spend figures: the annotation and the description ($now/h against $baseline/h).
        try:
            now = float(ann.get("spend_usd_per_hour", "nan"))
        except ValueError:
            now = float("nan")
        m = re.search(r"now\s+\$([0-9.]+)/h\s+against a baseline of\s+\$([0-9.]+)/h", ann.get("description", ""))
        check(now == now and now > 0, "spend_usd_per_hour annotation missing or not a number: %r" % ann, failures)
        check(m is not None, "description carries no spend figures: %r" % ann.get("description"), failures)
        if m and now == now:
            d_now, d_base = float(m.group(1)), float(m.group(2))
            print("e2e: spike page spend %.2f USD/h against a baseline of %.2f USD/h (%.1fx)"
                  % (d_now, d_base, d_now / d_base if d_base else float("inf")), flush=True)
            check(abs(d_now - now) < 0.01, "description spend %s != annotation %s" % (d_now, now), failures)
            check(d_base > 0 and d_now >= 3 * d_base, "spend %s is not 3x the baseline %s" % (d_now, d_base), failures)
        pd = [r for r in st.recorder.records if r["path"].startswith("/pagerduty")]
        if pd:
            print("e2e: spike PagerDuty event after %.1f s" % (pd[0]["received_mono"] - spike_mono), flush=True)
        return {"spike_page_delay_s": round(delay, 1), "spike_alert": brief(a),
                "runaway_page_delay_s": round(runaway_delay, 1) if runaway_delay is not None else None,
                "spend_usd_per_hour": now,
                "pagerduty_delay_s": round(pd[0]["received_mono"] - spike_mono, 1) if pd else None}


def scenario_no_page(failures):
    with stk.Stack(BUILD, name="nopage", budget_scale=BUDGET_SCALE) as st:
        tr = st.traffic("--rate", str(RATE), "--seed", SEED, "--duration", str(SPIKE_WARMUP + SPIKE_LEN))
        summary = tr.wait(SPIKE_WARMUP + SPIKE_LEN + 30)
        end = time.monotonic() + NO_PAGE_GRACE
        st.recorder.wait_for(lambda a: a["labels"].get("severity") == "page", end)
        got = pages(st.recorder)
        check(summary["events_sent"] > 0.9 * RATE * (SPIKE_WARMUP + SPIKE_LEN),
              "steady run sent only %s events" % summary["events_sent"], failures)
        # The run must have reached Prometheus for the silence to mean anything.
        reqs = st.scalar("sum(llm_requests_total)")
        check(reqs is not None and reqs >= 0.9 * summary["events_sent"],
              "Prometheus saw %s requests of %s sent" % (reqs, summary["events_sent"]), failures)
        check(not got, "false page(s) in a steady run: %s" % [brief(a) for _, a in got], failures)
        others = sorted({brief(a) for _, _, s, a in st.recorder.webhook_alerts() if s == "firing"})
        print("e2e: no-page run: %d page notifications in %d s of steady traffic (+%d s); other alerts: %s"
              % (len(got), SPIKE_WARMUP + SPIKE_LEN, NO_PAGE_GRACE, others or "none"), flush=True)
        return {"false_pages": len(got), "other_alerts": others}


def scenario_ticket(failures, scenario, alertname, expect):
    overlay = {"e2e-short-windows.yml": stk.short_window_variant(alertname, DIVISOR)}
    with stk.Stack(BUILD, name=scenario, overlays=overlay) as st:
        warm = st.traffic("--rate", str(RATE), "--seed", SEED, "--duration", str(WARMUP))
        warm.wait(WARMUP + 30)
        tr = st.traffic("--rate", str(RATE), "--seed", SEED + "1", "--duration", str(TICKET_WAIT),
                        "--scenario", scenario)
        switch = tr.start_mono
        want = lambda a: (a["labels"].get("alertname") == alertname  # noqa: E731
                          and a["labels"].get("e2e_windows") == "1/%d" % DIVISOR)
        early = [a for m, _, s, a in st.recorder.webhook_alerts() if s == "firing" and want(a) and m < switch]
        check(not early, "%s fired during the steady warm-up: %s" % (alertname, [brief(a) for a in early]), failures)
        got = st.recorder.wait_for(want, switch + TICKET_WAIT)
        tr.stop()
        tr.wait(30)
        if got is None:
            check(False, "no %s notification within %d s of --scenario %s" % (alertname, TICKET_WAIT, scenario),
                  failures)
            print(st.logs())
            return {}
        mono, a = got
        delay = mono - switch
        print("e2e: %s (%s, windows/%d) after %.1f s (%s)" % (scenario, alertname, DIVISOR, delay, brief(a)),
              flush=True)
        check(a["labels"].get("severity") == "ticket", "severity %r" % a["labels"].get("severity"), failures)
        for k, allowed in expect.items():
            check(a["labels"].get(k) in allowed, "%s=%r not in %s" % (k, a["labels"].get(k), allowed), failures)
        check("%" in a.get("annotations", {}).get("description", ""),
              "description carries no figure: %r" % a.get("annotations"), failures)
        return {"delay_s": round(delay, 1), "alert": brief(a)}


# --- agent loops, retry storms, brand-new runaways (issue 15) ------------------------
# Short scenarios: the exporter condenses task ids and prompt hashes itself, and
# these pages need no history, so a stack a minute or two old must already page.
LOOP_FEATURE = "agent"       # the looping task's feature: one the steady traffic has
LOOP_EVERY = 2.0             # s between the looping task's requests
LOOP_HOPS = 12               # the exporter's default hops limit: the 13th hop passes it
STORM_COPIES, STORM_SPAN = 10, 20.0   # 10 identical prompts in 20 s
NEW_FEATURE = "brand-new-job"
NEW_PACE = 3000              # x the shipped global monthly budget's even pace
NEW_AFTER_PROMETHEUS = 120   # s: Prometheus started this long before the new feature
NEW_EVENTS_PER_S = 5
PAGE_BOUND = 60              # s: each of these pages must arrive within this
LISTEN = PAGE_BOUND + 30     # s: listen past the bound, so a late page is measured


def usd_per_mtok(model, kind):
    """A rate of the shipped price table, read by the test (never from the code)."""
    with open(os.path.join(stk.REPO, "exporter", "pricing", "prices.yml")) as f:
        table = yaml.safe_load(f)
    for entry in table["models"]:
        if entry["model"] == model:
            return float(entry["usd_per_mtok"][kind])
    raise KeyError(model)


class Sender:
    """Events posted to the stack's exporter over HTTP, one per request, each with a
    fresh request_id; send() returns the monotonic time it was accepted."""

    def __init__(self, st, tag):
        self.st, self.tag, self.n = st, tag, 0

    def send(self, model, input_tokens, output_tokens, feature, tenant="acme", **fields):
        self.n += 1
        ev = dict({"model": model, "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
                   "labels": {"feature": feature, "tenant": tenant, "route": "/e2e/%s" % self.tag},
                   "request_id": "e2e-%s-%d-%d" % (self.tag, os.getpid(), self.n), "status": 200}, **fields)
        status, body = self.st.exporter.post(json.dumps(ev).encode(), {"Content-Type": "application/json"})
        if status // 100 != 2 or not isinstance(body, dict) or body.get("accepted") != 1:
            raise RuntimeError("exporter refused an event (%s): %s" % (status, body))
        return time.monotonic()


def pace(start, i, every):
    """Sleeps until the i-th tick of a schedule (bounded: never longer than `every`)."""
    time.sleep(min(every, max(0.0, start + i * every - time.monotonic())))


def ingest_get(st, path):
    from http_client import http
    status, body = http("GET", st.exporter.ingest + path)
    return status, json.loads(body) if body else None


def first_alert(rec, alertname, deadline, **labels):
    return rec.wait_for(lambda a: a["labels"].get("alertname") == alertname
                        and all(a["labels"].get(k) == v for k, v in labels.items()), deadline)


def scenario_runaway(failures):
    """One task of a feature with steady multi-task traffic loops, a request every
    2 s: LLMRunawayTask{reason="hops"} pages within 60 s of its 13th hop, and
    /v1/tasks/top names the task."""
    with stk.Stack(BUILD, name="runaway") as st:
        tr = st.traffic("--rate", str(RATE), "--seed", SEED, "--duration", "240")
        time.sleep(20)  # the steady agent tasks are scraped and evaluated first
        tx, task = Sender(st, "loop"), "loop-%d" % os.getpid()
        start, crossed = time.monotonic(), None
        for hop in range(1, 40):
            pace(start, hop - 1, LOOP_EVERY)
            t = tx.send("claude-sonnet-4-5", 1000, 200, LOOP_FEATURE, task_id=task, prompt_hash="sha256:hop%d" % hop)
            if hop == LOOP_HOPS + 1:
                crossed = t
            if crossed is not None and first_alert(st.recorder, "LLMRunawayTask", 0, feature=LOOP_FEATURE):
                break
        got = first_alert(st.recorder, "LLMRunawayTask", crossed + LISTEN, feature=LOOP_FEATURE)
        early = [brief(a) for m, _, s, a in st.recorder.webhook_alerts()
                 if s == "firing" and a["labels"].get("alertname") == "LLMRunawayTask" and m < crossed]
        check(not early, "LLMRunawayTask before the loop passed %d hops: %s" % (LOOP_HOPS, early), failures)
        status, top = ingest_get(st, "/v1/tasks/top?by=hops&n=1")
        tr.stop()
        tr.wait(30)
        check(status == 200 and top["tasks"] and top["tasks"][0]["task_id"] == task,
              "/v1/tasks/top?by=hops does not name the looping task first: %s %s" % (status, top), failures)
        if top and top.get("tasks"):
            hops = top["tasks"][0]["hops"]
            # $3 and $15 per million tokens: one hop is 1000 in + 200 out
            want = hops * (1000 * usd_per_mtok("claude-sonnet-4-5", "input")
                           + 200 * usd_per_mtok("claude-sonnet-4-5", "output")) / 1e6
            check(abs(top["tasks"][0]["cost_usd"] - want) < 1e-9,
                  "drill-down cost %s != %d hops x $0.006 = %s" % (top["tasks"][0]["cost_usd"], hops, want), failures)
            check("hops" in top["tasks"][0]["runaway"], "drill-down shows no hops runaway: %s" % top, failures)
        if got is None:
            check(False, "no LLMRunawayTask page within %d s of the %dth hop" % (LISTEN, LOOP_HOPS + 1), failures)
            print(st.logs())
            return {}
        mono, a = got
        delay = mono - crossed
        print("e2e: runaway: LLMRunawayTask %.1f s after the hop that passed %d hops (%s); drill-down: %s"
              % (delay, LOOP_HOPS, brief(a), top["tasks"][0] if top and top.get("tasks") else None), flush=True)
        check(a["labels"].get("severity") == "page" and a["labels"].get("reason") == "hops",
              "runaway page %s is not severity=page reason=hops" % brief(a), failures)
        check(delay <= PAGE_BOUND, "LLMRunawayTask after %.1f s > %d s" % (delay, PAGE_BOUND), failures)
        return {"runaway_page_delay_s": round(delay, 1), "alert": brief(a)}


def scenario_retry_storm(failures):
    """10 identical prompts in 20 s in a feature with steady traffic: LLMRetryStorm
    pages within 60 s of the first copy; /v1/prompts/top names the hash."""
    with stk.Stack(BUILD, name="retry-storm") as st:
        tr = st.traffic("--rate", str(RATE), "--seed", SEED, "--duration", "240")
        time.sleep(20)
        tx, digest = Sender(st, "storm"), "sha256:e2e-retry-%d" % os.getpid()
        every = STORM_SPAN / (STORM_COPIES - 1)
        start = time.monotonic()
        sent = []
        for i in range(STORM_COPIES):
            pace(start, i, every)
            sent.append(tx.send("claude-sonnet-4-5", 2000, 100, "chat", prompt_hash=digest))
        status, top = ingest_get(st, "/v1/prompts/top?n=1")
        got = first_alert(st.recorder, "LLMRetryStorm", sent[0] + LISTEN, feature="chat")
        tr.stop()
        tr.wait(30)
        early = [brief(a) for m, _, s, a in st.recorder.webhook_alerts()
                 if s == "firing" and a["labels"].get("alertname") == "LLMRetryStorm" and m < sent[0]]
        check(not early, "LLMRetryStorm before the storm: %s" % early, failures)
        p = top["prompts"][0] if status == 200 and top and top.get("prompts") else None
        # the 6th..10th copies were already seen 5 times within 60 s: 5 repeats
        check(p is not None and p["prompt_hash"] == digest and p["requests_in_window"] == STORM_COPIES
              and p["repeated_requests"] == STORM_COPIES - 5,
              "/v1/prompts/top does not show the storm's hash with %d copies, %d repeats: %s"
              % (STORM_COPIES, STORM_COPIES - 5, top), failures)
        if got is None:
            check(False, "no LLMRetryStorm page within %d s of the first copy" % LISTEN, failures)
            print(st.logs())
            return {}
        mono, a = got
        delay = mono - sent[0]
        print("e2e: retry-storm: LLMRetryStorm %.1f s after the first copy, %.1f s after the 6th (%s)"
              % (delay, mono - sent[5], brief(a)), flush=True)
        check(a["labels"].get("severity") == "page", "severity %r" % a["labels"].get("severity"), failures)
        check(delay <= PAGE_BOUND, "LLMRetryStorm after %.1f s > %d s" % (delay, PAGE_BOUND), failures)
        return {"storm_page_delay_s": round(delay, 1), "after_6th_copy_s": round(mono - sent[5], 1)}


def scenario_new_feature(failures):
    """Prometheus started two minutes ago; a feature that did not exist starts
    spending at 3,000x the shipped monthly budget's even pace: LLMSpendRateHigh
    pages for it within 60 s of its first event."""
    with stk.Stack(BUILD, name="new-feature") as st:
        prom_started = time.monotonic()
        tr = st.traffic("--rate", str(RATE), "--seed", SEED, "--duration", str(NEW_AFTER_PROMETHEUS + LISTEN + 10))
        with open(os.path.join(stk.REPO, "exporter", "config", "llm-cost-exporter.yml")) as f:
            budget = [b["usd"] for b in yaml.safe_load(f)["budgets"]
                      if b["scope"] == "global" and b["period"] == "month"][0]
        usd_per_s = budget * NEW_PACE / (30 * 86400)
        out_rate = usd_per_mtok("claude-opus-4-6", "output")
        out_tokens = int(round(usd_per_s / NEW_EVENTS_PER_S / out_rate * 1e6))
        time.sleep(max(0.0, prom_started + NEW_AFTER_PROMETHEUS - time.monotonic()))
        tx = Sender(st, "new")
        start = time.monotonic()
        first = None
        got = None
        for i in range(int(LISTEN * NEW_EVENTS_PER_S)):
            pace(start, i, 1.0 / NEW_EVENTS_PER_S)
            t = tx.send("claude-opus-4-6", 0, out_tokens, NEW_FEATURE, tenant="newco")
            first = first or t
            got = first_alert(st.recorder, "LLMSpendRateHigh", 0, feature=NEW_FEATURE)
            if got:
                break
        tr.stop()
        tr.wait(30)
        early = [brief(a) for m, _, s, a in st.recorder.webhook_alerts()
                 if s == "firing" and a["labels"].get("alertname") == "LLMSpendRateHigh" and m < first]
        check(not early, "LLMSpendRateHigh before the new feature spent: %s" % early, failures)
        if got is None:
            check(False, "no LLMSpendRateHigh page for %s within %d s of its first event" % (NEW_FEATURE, LISTEN),
                  failures)
            print(st.logs())
            return {}
        mono, a = got
        delay = mono - first
        print("e2e: new-feature: %s at $%.2f/min (%dx the $%s/month pace; %d output tokens of claude-opus-4-6 "
              "x %d/s) paged %.1f s after its first event, %.1f s after Prometheus started (%s)"
              % (NEW_FEATURE, usd_per_s * 60, NEW_PACE, budget, out_tokens, NEW_EVENTS_PER_S, delay,
                 mono - prom_started, brief(a)), flush=True)
        check(a["labels"].get("severity") == "page", "severity %r" % a["labels"].get("severity"), failures)
        check(delay <= PAGE_BOUND, "LLMSpendRateHigh after %.1f s > %d s" % (delay, PAGE_BOUND), failures)
        return {"new_feature_page_delay_s": round(delay, 1), "usd_per_minute": round(usd_per_s * 60, 2)}


def scenario_restart(failures, persistent):
    name = "restart-persistent" if persistent else "restart-ephemeral"
    rate, duration, restart_at, batch = 20, 100, 45, 20
    with stk.Stack(BUILD, name=name, storage=persistent) as st:
        t0 = time.time() - 1
        tr = st.traffic("--rate", str(rate), "--seed", SEED, "--duration", str(duration),
                        http_target=True, http_batch=batch)
        time.sleep(max(0.0, tr.start_mono + restart_at - time.monotonic()))
        old_pid = st.exporter.proc.pid
        down = time.monotonic()
        rc = st.exporter.stop()
        st.exporter.start()
        downtime = time.monotonic() - down
        check(rc == 0, "exporter exited %s on SIGTERM" % rc, failures)
        check(st.exporter.proc.pid != old_pid, "exporter was not restarted", failures)
        summary = tr.wait(duration + 30)
        sent = summary["events_sent"]
        # Two more scrapes after the last event, then read at the last scrape's timestamp
        # so that increase() needs no extrapolation at the right edge.
        time.sleep(12)
        last = st.query("max(timestamp(llm_requests_total))")
        t1 = float(last[0]["value"][1])
        window = int(t1 - t0) + 1
        inc = st.scalar("sum(increase(llm_requests_total[%ds]))" % window, at=t1)
        before = st.scalar("sum(llm_requests_total)", at=t0) or 0.0
        after = st.scalar("sum(llm_requests_total)", at=t1)
        resets = st.scalar("sum(resets(llm_requests_total[%ds]))" % window, at=t1)
        delta = (after or 0) - before
        err_inc = (inc - sent) / sent if inc is not None else float("nan")
        err_delta = (delta - sent) / sent
        print("e2e: %s: generator sent %d events (%d failed during a %.2f s restart); Prometheus increase() %.1f "
              "(%+.2f%%), sum delta %.0f (%+.2f%%), counter resets seen %s"
              % (name, sent, summary["events_failed"], downtime, inc or -1, 100 * err_inc, delta,
                 100 * err_delta, resets), flush=True)
        check(summary["events_failed"] < sent * 0.05, "too many failed sends: %s" % summary["events_failed"], failures)
        if persistent:
            check(abs(err_inc) <= 0.01, "increase() %.1f vs %d sent: %+.2f%% > 1%%" % (inc or -1, sent, 100 * err_inc),
                  failures)
            check(abs(err_delta) <= 0.01, "sum delta %.0f vs %d sent: %+.2f%% > 1%%" % (delta, sent, 100 * err_delta),
                  failures)
            check(resets == 0, "counters reset although --storage.path was set (%s resets)" % resets, failures)
        else:
            # Without persistence the counters restart at zero; increase() absorbs the
            # reset, but events applied after the last scrape before SIGTERM are gone:
            # at most one scrape interval of traffic plus one HTTP batch.
            bound = rate * 5 + batch
            check(resets and resets > 0, "no counter reset seen without --storage.path", failures)
            check(inc is not None and sent - bound * 1.2 <= inc <= sent * 1.01,
                  "increase() %.1f outside [%d - %d, %d + 1%%]" % (inc or -1, sent, bound * 1.2, sent), failures)
        return {"sent": sent, "failed": summary["events_failed"], "downtime_s": round(downtime, 2),
                "increase": inc, "increase_error_pct": round(100 * err_inc, 3),
                "sum_delta": delta, "sum_delta_error_pct": round(100 * err_delta, 3), "resets": resets}


SCENARIOS = {
    "spike": scenario_spike,
    "no-page": scenario_no_page,
    "expensive-model": lambda f: scenario_ticket(f, "expensive-model", "LLMExpensiveModelShareHigh",
                                                 {"model": {"claude-opus-4-1"}}),
    "cache-regression": lambda f: scenario_ticket(f, "cache-regression", "LLMCacheHitRatioDrop",
                                                  {"feature": {"chat", "search", "summarize", "agent"}}),
    "runaway": scenario_runaway,
    "retry-storm": scenario_retry_storm,
    "new-feature": scenario_new_feature,
    "restart-persistent": lambda f: scenario_restart(f, True),
    "restart-ephemeral": lambda f: scenario_restart(f, False),
}
GROUPS = {"alerts": ["spike", "no-page", "expensive-model", "cache-regression", "runaway", "retry-storm",
                     "new-feature"],
          "restart": ["restart-persistent", "restart-ephemeral"]}


def run_one(name):
    failures = []
    t = time.monotonic()
    try:
        result = SCENARIOS[name](failures)
    except Exception as e:  # a broken stack is a failure, with its message
        failures.append("%s: %s" % (type(e).__name__, e))
        print("e2e: FAIL: %s: %s" % (type(e).__name__, e), flush=True)
        result = {}
    result = dict(result or {}, scenario=name, failures=failures, wall_s=round(time.monotonic() - t, 1))
    print("E2E_RESULT " + json.dumps(result), flush=True)
    return 1 if failures else 0


def run_group(names):
    """Runs the scenarios as concurrent child processes (each single-threaded owner
    of its stack), killed with this process (setpriv --pdeathsig)."""
    import tempfile
    outdir = tempfile.TemporaryDirectory(prefix="llm-e2e-out-")
    procs, files = {}, {}
    for n in names:
        files[n] = open(os.path.join(outdir.name, n + ".log"), "w+")
        procs[n] = stk.popen([sys.executable, os.path.abspath(__file__), n], stdout=files[n],
                             stderr=subprocess.STDOUT, text=True)
    results, rc = [], 0
    try:
        deadline = time.monotonic() + 900  # the longest scenario (spike, no-page) takes ~13 min
        for n, p in procs.items():
            try:
                p.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                print("e2e: FAIL: %s timed out" % n)
            files[n].seek(0)
            out = files[n].read()
            sys.stdout.write("".join("[%s] %s\n" % (n, l) for l in out.splitlines()))
            for l in out.splitlines():
                if l.startswith("E2E_RESULT "):
                    results.append(json.loads(l[len("E2E_RESULT "):]))
            if p.returncode != 0:
                rc = 1
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        outdir.cleanup()
    print("\n== e2e summary ==")
    for r in results:
        print("%-20s %s %s" % (r["scenario"], "FAIL" if r["failures"] else "ok",
                               json.dumps({k: v for k, v in r.items() if k not in ("scenario", "failures")})))
        for f in r["failures"]:
            print("    - " + f)
    if len(results) != len(names):
        print("e2e: FAIL: %d of %d scenarios reported" % (len(results), len(names)))
        rc = 1
    return rc


def main():
    if len(sys.argv) != 2 or (sys.argv[1] not in SCENARIOS and sys.argv[1] not in GROUPS):
        print(__doc__)
        return 2
    if sys.argv[1] in GROUPS:
        return run_group(GROUPS[sys.argv[1]])
    return run_one(sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
