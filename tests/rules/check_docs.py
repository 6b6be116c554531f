#!/usr/bin/python3
"""Keeps the alert docs honest against the rule files:
  - every alert has severity page|ticket|info and the annotations summary,
    description and runbook_url, and runbook_url points at its own section;
  - docs/runbook.md has exactly one section per alert, and docs/alerts.md names
    every alert and every threshold of thresholds.yml;
  - every PromQL query the runbook tells people to run parses (checked with
    `promtool check rules` on a temp rule file made of them).

usage: check_docs.py <promtool> <repo root>
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

import yaml

RUNBOOK = "docs/runbook.md#"


def main():
    promtool, repo = sys.argv[1], sys.argv[2]
    failures = []
    alerts, thresholds = {}, set()
    for path in sorted(glob.glob(os.path.join(repo, "prometheus", "rules", "*.yml"))):
        with open(path) as f:
            doc = yaml.safe_load(f)
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "record" in rule and rule["record"].startswith("llm:alert_threshold:"):
                    thresholds.add(rule["record"][len("llm:alert_threshold:"):])
                if "alert" not in rule:
                    continue
                name = rule["alert"]
                alerts.setdefault(name, []).append(rule)
                sev = rule.get("labels", {}).get("severity")
                if sev not in ("page", "ticket", "info"):
                    failures.append(f"{name}: severity {sev!r}")
                ann = rule.get("annotations", {})
                for key in ("summary", "description", "runbook_url"):
                    if not ann.get(key):
                        failures.append(f"{name}: no {key} annotation")
                if ann.get("runbook_url") != RUNBOOK + name.lower():
                    failures.append(f"{name}: runbook_url {ann.get('runbook_url')!r}, want {RUNBOOK + name.lower()}")

    with open(os.path.join(repo, "docs", "runbook.md")) as f:
        runbook = f.read()
    sections = re.findall(r"^## (\S+)\s*$", runbook, re.M)
    for name in alerts:
        if sections.count(name) != 1:
            failures.append(f"docs/runbook.md has {sections.count(name)} sections for {name}, want 1")
    for s in sections:
        if s not in alerts:
            failures.append(f"docs/runbook.md has a section for unknown alert {s}")

    with open(os.path.join(repo, "docs", "alerts.md")) as f:
        alerts_md = f.read()
    for name in alerts:
        if f"`{name}`" not in alerts_md:
            failures.append(f"docs/alerts.md does not list {name}")
    for t in thresholds:
        if f"`{t}" not in alerts_md:
            failures.append(f"docs/alerts.md does not document threshold {t}")

    # Numbered items under "**First queries.**" hold the queries to run.
    queries = []
    for block in re.findall(r"\*\*First queries\.\*\*\n(.*?)\n\n\*\*Usual fixes", runbook, re.S):
        for snippet in re.findall(r"`([^`]+)`", block):
            # PromQL, not a path (`/api/v1/rules`) or a label name (`tenant`)
            if not snippet.startswith("/") and re.search(r"[({\[]|:", snippet):
                queries.append(snippet)
    if len(queries) < 3 * len(alerts):
        failures.append(f"only {len(queries)} runbook queries found for {len(alerts)} alerts")
    with tempfile.TemporaryDirectory(prefix="llm-runbook-") as tmp:
        rules = {"groups": [{"name": "runbook", "rules": [
            {"record": f"runbook:query:{i}", "expr": q} for i, q in enumerate(queries)]}]}
        path = os.path.join(tmp, "runbook_queries.yml")
        with open(path, "w") as f:
            yaml.safe_dump(rules, f)
        proc = subprocess.run([promtool, "check", "rules", path], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=60)
        print(proc.stdout)
        if proc.returncode != 0:
            failures.append("a runbook query does not parse (see promtool output above)")

    print(f"{len(alerts)} alerts, {len(thresholds)} thresholds, {len(queries)} runbook queries checked")
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
