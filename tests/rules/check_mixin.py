#!/usr/bin/python3
"""The monitoring config (prometheus/mixin/config.yml) against the exporter's
shipped config and the generated rules, and the generator with a custom config.

  1. consistency: the exporter's attribution labels and histogram label are the
     config's label roles; every histogram threshold is a bucket bound of the
     exporter histogram it names; every shipped budget scope is one the rules
     cover; the generated rules group only by labels the exporter exports (so no
     hard-coded label survives) and cover exactly the configured budget scopes;
  2. custom config: renamed labels (feature -> team), route budgets, a metrics
     selector and other windows generate rules that `promtool check rules`
     accepts, name the renamed labels and no default ones, select every raw
     series, and cover route: budgets.

usage: check_mixin.py <promtool> <repo root>
"""
import copy
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


# Labels on the exporter's series besides the attribution labels
# (docs/metrics.md), plus the target labels Prometheus adds.
SERIES_LABELS = {"provider", "model", "status", "token_type", "cost_type", "le", "platform",
                 "service_tier", "scope", "period", "transport", "reason", "label", "result",
                 "job", "instance", "pod", "service_name", "signal"}
BY_CLAUSE = re.compile(r"\b(?:by|on|without)\s*\(([^)]*)\)")


def rules_of(doc):
    for g in doc["groups"]:
        yield from g["rules"]


def grouping_labels(expr):
    out = set()
    for m in BY_CLAUSE.finditer(expr):
        out |= {x.strip() for x in m.group(1).split(",") if x.strip()}
    return out


def consistency(repo, gen):
    mixin = load(os.path.join(repo, "prometheus", "mixin", "config.yml"))
    exp = load(os.path.join(repo, "exporter", "config", "llm-cost-exporter.yml"))
    lab = mixin["labels"]
    roles = [lab["feature"], lab["tenant"], lab["route"]]
    check(sorted(exp["labels"]["attribution"]) == sorted(roles),
          f"exporter labels.attribution {exp['labels']['attribution']} != monitoring config labels {roles}")
    check(exp["labels"]["histogram_label"] == lab["histogram"],
          f"exporter labels.histogram_label {exp['labels']['histogram_label']!r} != "
          f"monitoring config labels.histogram {lab['histogram']!r}")
    for name, t in mixin["histogram_thresholds"].items():
        buckets = exp["histograms"].get(t["histogram"] + "_buckets")
        check(buckets is not None, f"histogram_thresholds.{name}: exporter has no histogram {t['histogram']}")
        check(buckets is None or float(t["value"]) in [float(b) for b in buckets],
              f"histogram_thresholds.{name}: {t['value']} is not a bucket bound of "
              f"{t['histogram']} {buckets}")
    covered = {lab[r] for r in mixin["budget_scopes"]}
    for b in exp.get("budgets", []):
        scope = b["scope"]
        check(scope == "global" or scope.split(":", 1)[0] in covered,
              f"exporter budget scope {scope!r}: no budget rule covers label {scope.split(':', 1)[0]!r}")

    exported = SERIES_LABELS | set(roles)
    scopes_seen = set()
    for name, doc in gen.items():
        for rule in rules_of(doc):
            expr = rule["expr"]
            used = grouping_labels(expr)
            check(used <= exported, f"{name} {rule.get('record') or rule.get('alert')}: groups by "
                  f"{sorted(used - exported)}, not labels of the exporter's series")
            scopes_seen |= set(re.findall(r'scope=~"(\w+):\.\+"', expr))
    check(scopes_seen == covered, f"generated budget rules cover scopes {sorted(scopes_seen)}, "
          f"config budget_scopes {sorted(covered)}")
    # Histogram thresholds appear as the defaults of thresholds.yml.
    thr = {r["record"]: r["expr"] for r in rules_of(gen["thresholds.yml"])}
    for name, t in mixin["histogram_thresholds"].items():
        value = str(int(t["value"]) if float(t["value"]).is_integer() else t["value"])
        check(f"vector({value})" in thr.get(f"llm:alert_threshold:{name}", ""),
              f"thresholds.yml: llm:alert_threshold:{name} does not default to {value}")


def custom(promtool, repo):
    sys.path.insert(0, os.path.join(repo, "prometheus", "mixin"))
    import generate  # noqa: E402
    cfg = copy.deepcopy(generate.load_config(generate.DEFAULT_CONFIG))
    cfg["labels"]["feature"] = "team"
    cfg["labels"]["histogram"] = "team"
    cfg["budget_scopes"] = ["feature", "tenant", "route"]
    cfg["selectors"]["metrics"] = 'namespace="llm"'
    cfg["burn_rate_alerts"][0]["windows"][0]["long"] = "45m"
    files = generate.render_rules(generate.Mixin(cfg))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, text in files.items():
            p = os.path.join(tmp, name)
            with open(p, "w") as f:
                f.write(text)
            paths.append(p)
        r = subprocess.run([promtool, "check", "rules"] + paths, capture_output=True, text=True)
        check(r.returncode == 0, f"custom config: promtool check rules failed:\n{r.stdout}{r.stderr}")
    docs = {n: yaml.safe_load(t) for n, t in files.items()}
    records = set()
    for name, doc in docs.items():
        for rule in rules_of(doc):
            expr = rule["expr"]
            check("feature" not in grouping_labels(expr),
                  f"custom config: {name} {rule.get('record') or rule.get('alert')} still groups by feature")
            for m in re.finditer(r"(?<![:\w])(llm_[a-z0-9_]+)(?![:\w])(\{[^}]*\})?", expr):
                check(m.group(2) is not None and 'namespace="llm"' in m.group(2),
                      f"custom config: {name}: {m.group(0)} lacks the metrics selector")
            if "record" in rule:
                records.add(rule["record"])
    for want in ("llm_team:cost_usd:rate5m", "llm_route:cost_usd:rate3d", "llm_scope:cost_usd:rate45m",
                 "llm_team:request_input_tokens:p95_rate1h"):
        check(want in records, f"custom config: no recording rule {want}")
    budget = "\n".join(r["expr"] for r in rules_of(docs["budget.yml"]))
    check('scope=~"route:.+"' in budget, "custom config: route budgets not covered")
    # Dashboards: every query, legend and variable uses the renamed label.
    dash = generate.load_dashboards_module()
    dash.configure(cfg)
    exprs, var_names = [], []
    for text in dash.render_all().values():
        d = json.loads(text)
        exprs += [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
        var_names += [v["name"] for v in d["templating"]["list"]]
    check(exprs and not any(re.search(r"(?<![\w.])feature(?!\w)", e) for e in exprs),
          "custom config: a dashboard query still names feature")
    check(any('team=~"$team"' in e for e in exprs) and "team" in var_names and "feature" not in var_names,
          "custom config: dashboards do not filter by the team variable")


def main():
    promtool, repo = sys.argv[1], sys.argv[2]
    gen_dir = os.path.join(repo, "prometheus", "rules")
    gen = {n: load(os.path.join(gen_dir, n)) for n in os.listdir(gen_dir) if n.endswith(".yml")}
    consistency(repo, gen)
    custom(promtool, repo)
    for f in failures:
        print("FAIL:", f)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
