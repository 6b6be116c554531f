#!/usr/bin/python3
"""Checks prometheus/prometheus.yml and prometheus/examples/scrape-job.yml with
promtool, including the rule files the stack loads.

prometheus.yml names its rules by their path inside the container
(/etc/prometheus/rules/*.yml). `promtool check config` silently accepts a glob
that matches nothing, so checking the file as it is would not check a single
rule. This script therefore checks it twice: as shipped (syntax), and as a temp
copy whose rule_files point at the repository's prometheus/rules/, asserting
that promtool really checked every shipped rule file (and nothing else, such
as the test fixtures).

usage: check_prometheus_config.py <promtool> <repo root>
"""
import glob
import os
import subprocess
import sys
import tempfile

import yaml

CONTAINER_RULES = "/etc/prometheus/rules/"
# Every rule file the generator writes: one per source in prometheus/mixin/rules/.
EXPECTED_RULE_FILES = {os.path.basename(p) for p in glob.glob(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "prometheus", "mixin", "rules", "*.yml"))}


def run(cmd):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    print("$ " + " ".join(cmd))
    print(proc.stdout)
    return proc


def main():
    promtool, repo = sys.argv[1], sys.argv[2]
    config_path = os.path.join(repo, "prometheus", "prometheus.yml")
    rules_dir = os.path.join(repo, "prometheus", "rules")
    failures = []

    if run([promtool, "check", "config", config_path]).returncode != 0:
        failures.append("prometheus.yml as shipped does not pass promtool check config")

    with open(config_path) as f:
        config = yaml.safe_load(f)
    rule_files = config.get("rule_files") or []
    if rule_files != [CONTAINER_RULES + "*.yml"]:
        failures.append(f"rule_files is {rule_files}, expected [{CONTAINER_RULES}*.yml] (the compose mount)")
    jobs = {j["job_name"]: j for j in config.get("scrape_configs", [])}
    targets = [t for sc in jobs.get("llm-cost-exporter", {}).get("static_configs", []) for t in sc.get("targets", [])]
    if targets != ["exporter:10429"]:
        failures.append(f"job llm-cost-exporter scrapes {targets}, expected ['exporter:10429']")
    am = [t for a in config.get("alerting", {}).get("alertmanagers", []) for sc in a.get("static_configs", []) for t in sc.get("targets", [])]
    if am != ["alertmanager:9093"]:
        failures.append(f"alertmanagers are {am}, expected ['alertmanager:9093']")

    with tempfile.TemporaryDirectory(prefix="llm-promcfg-") as tmp:
        config["rule_files"] = [f.replace(CONTAINER_RULES, rules_dir + "/") for f in rule_files]
        tmp_config = os.path.join(tmp, "prometheus.yml")
        with open(tmp_config, "w") as f:
            yaml.safe_dump(config, f)
        proc = run([promtool, "check", "config", tmp_config])
        if proc.returncode != 0:
            failures.append("prometheus.yml with the repository's rules does not pass promtool check config")
        checked = set()
        for line in proc.stdout.splitlines():
            line = line.strip()
            if line.startswith("Checking " + rules_dir + "/"):
                checked.add(os.path.basename(line[len("Checking "):]))
        if checked != EXPECTED_RULE_FILES:
            failures.append(f"promtool checked rule files {sorted(checked)}, expected {sorted(EXPECTED_RULE_FILES)}")

        # The example job must be a valid scrape config on its own.
        with open(os.path.join(repo, "prometheus", "examples", "scrape-job.yml")) as f:
            example = yaml.safe_load(f)
        example_jobs = [j["job_name"] for j in example.get("scrape_configs", [])]
        if example_jobs != ["llm-cost-exporter"]:
            failures.append(f"examples/scrape-job.yml defines jobs {example_jobs}, expected ['llm-cost-exporter']")
        tmp_example = os.path.join(tmp, "example.yml")
        with open(tmp_example, "w") as f:
            yaml.safe_dump({"scrape_configs": example["scrape_configs"]}, f)
        if run([promtool, "check", "config", tmp_example]).returncode != 0:
            failures.append("examples/scrape-job.yml is not a valid scrape config")

    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
