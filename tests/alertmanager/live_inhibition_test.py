#!/usr/bin/python3
"""Runs the shipped Alertmanager configuration in a real Alertmanager and checks
what amtool cannot: that inhibition silences the right alerts, and that the
notifications carry the rendered templates (scope, spend rate, budget).

A temp copy of alertmanager/alertmanager.yml is used, changed only where the
test has to: receiver endpoints point at a recorder in this process (so nothing
leaves the machine and no other test's webhook receives our alerts), secret
files are temp files, template paths are absolute, and group_wait is 1s so the
test is short. Routes, grouping and inhibit rules are the shipped ones.

Alertmanager listens on 127.0.0.1 on a free port with a temp storage path and
no cluster listener, and is stopped by PID on exit.

usage: live_inhibition_test.py <alertmanager binary> <repo root>
"""
import json
import os
import sys
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from alertmanager_server import Alertmanager, route_receivers_to  # noqa: E402
from webhook_recorder import Recorder  # noqa: E402

TIMEOUT_S = 60


def alert(name, severity, labels, annotations=None):
    base = f"docs/runbook.md#{name.lower()}"
    ann = {"summary": f"{name} {severity} {labels}", "description": "test alert", "runbook_url": base}
    ann.update(annotations or {})
    return {"labels": dict(alertname=name, severity=severity, **labels), "annotations": ann}


def main():
    am_bin, repo = sys.argv[1], sys.argv[2]
    failures = []
    am = Alertmanager(am_bin, flags=["--log.level=debug"])
    recorder = Recorder()
    try:
        with open(os.path.join(repo, "alertmanager", "alertmanager.yml")) as f:
            cfg = yaml.safe_load(f)
        route_receivers_to(cfg, recorder.url, am.dir, "test-routing-key", os.path.join(repo, "alertmanager"))

        def fast(route):
            route["group_wait"] = "1s"
            for child in route.get("routes", []):
                fast(child)
        fast(cfg["route"])
        deadline = time.monotonic() + TIMEOUT_S
        am.start(cfg, timeout=TIMEOUT_S)

        chat = {"scope": "feature:chat", "feature": "chat"}
        acme = {"scope": "tenant:acme", "tenant": "acme"}
        glob = {"scope": "global"}
        money = {"spend_usd_per_hour": "930.00", "budget_usd": "43200.00"}
        alerts = [
            alert("LLMBudgetBurnRate", "page", chat, money),
            alert("LLMBudgetBurnRate", "ticket", chat, money),          # inhibited by the page
            alert("LLMBudgetBurnRate", "ticket", acme, money),          # other scope: not inhibited
            alert("LLMBudgetMonthEndProjection", "ticket", dict(glob, budget_threshold="100%"), money),
            alert("LLMBudgetMonthEndProjection", "ticket", dict(glob, budget_threshold="80%"), money),  # inhibited
            alert("LLMBudgetMonthEndProjection", "info", dict(glob, budget_threshold="50%"), money),    # inhibited
            alert("LLMCacheHitRatioDrop", "ticket", {"feature": "chat"}),  # other alertname: not inhibited
        ]
        expect_inhibited = {("LLMBudgetBurnRate", "ticket", "feature:chat", ""),
                            ("LLMBudgetMonthEndProjection", "ticket", "global", "80%"),
                            ("LLMBudgetMonthEndProjection", "info", "global", "50%")}

        def key(labels):
            return (labels["alertname"], labels["severity"], labels.get("scope", ""), labels.get("budget_threshold", ""))
        all_keys = {key(a["labels"]) for a in alerts}

        am.post_alerts(alerts)
        states = {}
        while time.monotonic() < deadline:
            got = am.alerts()
            states = {key(a["labels"]): (a["status"]["state"], a["status"]["inhibitedBy"]) for a in got}
            inhibited = {k for k, (state, by) in states.items() if state == "suppressed" and by}
            if set(states) == all_keys and inhibited == expect_inhibited:
                break
            time.sleep(0.5)
        for k in sorted(all_keys):
            state, by = states.get(k, ("missing", []))
            want = "suppressed" if k in expect_inhibited else "active"
            print(f"{k}: {state} inhibitedBy={by} (want {want})")
            if state != want or (want == "suppressed" and not by):
                failures.append(f"alert {k} is {state}, want {want}")

        # Notifications: everything not inhibited reaches the webhook; pages
        # reach PagerDuty; the rendered Slack text carries spend and budget.
        want_webhook = all_keys - expect_inhibited

        def webhook_keys():
            return {key(a["labels"]) for p, body in recorder.received() if p == "/webhook" for a in body.get("alerts", [])}

        def paths():
            return [p for p, _ in recorder.received()]
        while time.monotonic() < deadline:
            if webhook_keys() >= want_webhook and "/pagerduty" in paths() and paths().count("/slack") >= 3:
                break
            time.sleep(0.5)
        time.sleep(2)  # let any (wrong) notification of an inhibited alert arrive too
        got_webhook = webhook_keys()
        if got_webhook != want_webhook:
            failures.append(f"webhook got {sorted(got_webhook)}, want {sorted(want_webhook)}")

        received = recorder.received()
        pd = [b for p, b in received if p == "/pagerduty"]
        if len(pd) != 1:
            failures.append(f"PagerDuty got {len(pd)} events, want 1 (the page only)")
        else:
            ev = pd[0]
            print("pagerduty:", json.dumps(ev)[:600])
            if ev.get("routing_key") != "test-routing-key":
                failures.append("PagerDuty event does not carry the routing key from routing_key_file")
            payload = ev.get("payload", {})
            if payload.get("severity") != "critical":
                failures.append(f"PagerDuty severity {payload.get('severity')}, want critical")
            if payload.get("summary") != "[FIRING:1] LLMBudgetBurnRate page feature=chat scope=feature:chat":
                failures.append(f"PagerDuty summary lacks alert and scope: {payload.get('summary')!r}")
            details = payload.get("custom_details", {})
            if details.get("spend_usd_per_hour") != "$930.00/h" or details.get("budget_usd") != "$43200.00":
                failures.append(f"PagerDuty details lack spend/budget: {details}")
        slack = [b for p, b in received if p == "/slack"]
        burn = [b for b in slack if "LLMBudgetBurnRate page" in json.dumps(b)]
        if not burn:
            failures.append("no Slack message for the page")
        else:
            att = burn[0]["attachments"][0]
            print("slack:", json.dumps(att)[:600])
            for needle in ("Spend rate: $930.00/h", "Budget: $43200.00", "Scope: feature=chat scope=feature:chat\n",
                           "Runbook: docs/runbook.md#llmbudgetburnrate"):
                if needle not in att.get("text", ""):
                    failures.append(f"Slack text lacks {needle!r}")
            if att.get("color") != "danger":
                failures.append(f"Slack colour for a page is {att.get('color')!r}, want danger")
            if burn[0].get("channel") != "#llm-cost":
                failures.append(f"page went to Slack channel {burn[0].get('channel')!r}")
        if any(b.get("channel") == "#llm-cost-info" for b in slack):
            failures.append("the inhibited info alert reached #llm-cost-info")
    finally:
        am.stop(timeout=10)
        recorder.close()
        if failures:
            print("--- alertmanager log (tail) ---\n" + am.log_tail(40))
        am.close()
    for f in failures:
        print("FAIL: " + f)
    print("PASS" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
