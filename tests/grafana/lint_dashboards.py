#!/usr/bin/python3
"""Static checks of the Grafana dashboards: grafana/dashboard-linter's rules plus the
project's own, written here because that linter cannot be built on these machines.

    lint_dashboards.py DASHBOARD.json|DIR...      # exit 1 and list every finding
    lint_dashboards.py --docs docs/dashboards.md DIR  # ...and every panel documented
    lint_dashboards.py --expect FILE DASHBOARD... # self-test: every rule id listed
                                                  # in FILE must be reported

Standard library only. Rule ids are printed with each finding so a failure says
which rule to read below.
"""
import argparse
import glob
import json
import os
import re
import sys

ALLOWED_DS = ("${datasource}", {"type": "prometheus", "uid": "${datasource}"})
# Panels that show no query result.
NO_QUERY_PANELS = {"row", "text", "news", "dashlist", "alertlist", "annolist"}
# Panels that show a quantity and so need a unit.
QUANTITY_PANELS = {"timeseries", "stat", "gauge", "bargauge", "barchart", "piechart",
                   "table", "heatmap", "histogram", "state-timeline", "trend", "xychart"}
COUNTER_SUFFIXES = ("_total", "_bucket", "_count", "_sum")
RANGE_FUNCS = {"rate", "irate", "increase"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
               "count_values", "bottomk", "topk", "quantile"}
KEYWORDS = GROUPING | AGGREGATORS | {"and", "or", "unless", "bool", "offset", "inf",
                                     "nan", "atan2"}
GRAFANA_BUILTINS = {"__rate_interval", "__range", "__interval", "__range_s",
                    "__range_ms", "__interval_ms", "__from", "__to", "__dashboard",
                    "__all", "__auto", "__url_time_range", "__data", "__field",
                    "__series", "__value", "__user", "__org", "__name"}
# Request-level series and the filter variables each must honour (docs/metrics.md:
# histograms carry provider, model and one attribution label, feature).
REQUEST_SERIES = ("llm_requests_total", "llm_tokens_total", "llm_cost_usd_total",
                  "llm_cache_savings_usd_total", "llm_cache_write_premium_usd_total")
HISTOGRAM_SERIES = ("llm_request_duration_seconds", "llm_time_to_first_token_seconds",
                    "llm_request_input_tokens", "llm_request_output_tokens",
                    "llm_request_cost_usd")
FILTER_VARS = ("provider", "model", "feature", "tenant")
HIST_FILTER_VARS = ("provider", "model", "feature")
DURATION_RE = re.compile(r"^(\d+[smhdwy])+$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_seconds(text):
    return sum(int(n) * UNIT_SECONDS[u] for n, u in re.findall(r"(\d+)([smhdwy])", text))


def walk(node, path=""):
    """Yields (path, key, value) for every dict entry in the JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


def all_panels(dash):
    for p in dash.get("panels", []):
        yield p
        for sub in p.get("panels", []) or []:  # collapsed rows hold their panels
            yield sub


def strip_promql(expr):
    """Blanks string literals, label matchers and range/subquery windows so that
    only function names, metric names, operators and grouping labels remain."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"'(?:[^'\\]|\\.)*'", "''", expr)
    expr = re.sub(r"\{[^{}]*\}", "{}", expr)
    expr = re.sub(r"\[[^\[\]]*\]", "[]", expr)
    return expr


TOKEN_RE = re.compile(r"\$\{?\w+(?::\w+)?\}?|\d+(?:\.\d+)?(?:e[+-]?\d+)?[a-zA-Z]*|"
                      r"[A-Za-z_:][A-Za-z0-9_:]*|[()]|\S")


def metric_uses(expr):
    """Yields (metric name, enclosing function names) for each metric selector."""
    toks = TOKEN_RE.findall(strip_promql(expr))
    stack = []  # one entry per open paren: function name, "()" or "grouping"
    for i, t in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if t == "(":
            prev = toks[i - 1] if i else ""
            if prev in GROUPING:
                stack.append("grouping")
            elif re.match(r"^[A-Za-z_]\w*$", prev) and prev not in KEYWORDS - AGGREGATORS:
                stack.append(prev)
            else:
                stack.append("()")
        elif t == ")":
            if stack:
                stack.pop()
        elif re.match(r"^[A-Za-z_:][A-Za-z0-9_:]*$", t):
            if nxt == "(" or t in KEYWORDS or (stack and stack[-1] == "grouping"):
                continue
            yield t, list(stack)


def selectors(expr, metric):
    """Label matcher text of every selector of `metric` (empty string if none)."""
    clean = re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: m.group(0).replace("{", "(").replace("}", ")"), expr)
    for m in re.finditer(r"(?<![A-Za-z0-9_:])" + re.escape(metric) + r"(?![A-Za-z0-9_:])(\{[^}]*\})?",
                         clean):
        yield m.group(1) or ""


class Linter:
    def __init__(self):
        self.findings = []

    def report(self, fname, rule, where, msg):
        self.findings.append((fname, rule, where, msg))

    def lint_files(self, paths):
        uids = {}
        for path in paths:
            try:
                with open(path, encoding="utf-8") as f:
                    dash = json.load(f)
            except (OSError, ValueError) as e:
                self.report(path, "parse", "", str(e))
                continue
            if not isinstance(dash, dict):
                self.report(path, "parse", "", "top level is not an object")
                continue
            uid = dash.get("uid")
            if uid in uids:
                self.report(path, "uid-unique", "uid", f"uid {uid!r} also used by {uids[uid]}")
            uids[uid] = path
            self.lint(path, dash)
        return self.findings

    def lint(self, f, d):
        uid = d.get("uid")
        if not isinstance(uid, str) or not re.match(r"^[A-Za-z0-9_-]{1,40}$", uid):
            self.report(f, "uid-stable", "uid", f"missing or invalid fixed uid {uid!r}")
        if "id" not in d or d["id"] is not None:
            self.report(f, "id-null", "id", "id must be null so import/provisioning assigns one")
        if "__inputs" in d or "__requires" in d:
            self.report(f, "no-inputs", "__inputs",
                        "__inputs/__requires break file provisioning (grafana/grafana#10786)")
        text = json.dumps(d)
        if "${DS_" in text or "$DS_" in text:
            self.report(f, "no-inputs", "", "uses an import-time ${DS_...} placeholder")
        if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 39:
            self.report(f, "schema-version", "schemaVersion",
                        "schemaVersion must be an integer >= 39 (Grafana 11)")
        if not d.get("title"):
            self.report(f, "dashboard-title", "title", "dashboard has no title")
        if "llm-cost" not in (d.get("tags") or []):
            self.report(f, "tags", "tags", "dashboard must be tagged llm-cost")
        if not any(l.get("type") == "dashboards" and "llm-cost" in (l.get("tags") or [])
                   for l in d.get("links") or []):
            self.report(f, "links", "links", "no link to the other llm-cost dashboards")

        variables = (d.get("templating") or {}).get("list") or []
        names = {v.get("name") for v in variables}
        ds_vars = [v for v in variables if v.get("type") == "datasource"]
        if len(ds_vars) != 1 or ds_vars[0].get("name") != "datasource" or \
                ds_vars[0].get("query") != "prometheus":
            self.report(f, "datasource-variable", "templating",
                        "need exactly one datasource variable, named 'datasource', "
                        f"query 'prometheus' (found {[v.get('name') for v in ds_vars]})")

        # No datasource reference other than the variable, anywhere in the tree.
        for path, k, v in walk(d):
            if k == "datasource" and v not in ALLOWED_DS:
                self.report(f, "datasource-ref", path,
                            f"datasource {json.dumps(v)} is not ${{datasource}}")

        uses_request_series = False
        ids = set()
        exprs = []
        for p in all_panels(d):
            ptype = p.get("type")
            title = p.get("title")
            where = f"panel {p.get('id')} {title!r}"
            if not title:
                self.report(f, "panel-title", where, "panel has no title")
            if p.get("id") in ids:
                self.report(f, "panel-id-unique", where, "duplicate panel id")
            ids.add(p.get("id"))
            gp = p.get("gridPos")
            if not isinstance(gp, dict):
                self.report(f, "panel-gridpos", where, "panel has no gridPos")
            elif gp.get("x", 0) + gp.get("w", 0) > 24 or gp.get("w", 0) <= 0 or \
                    gp.get("h", 0) <= 0:
                self.report(f, "panel-gridpos", where, f"gridPos {gp} outside the 24-column grid")
            if ptype in NO_QUERY_PANELS:
                continue
            if p.get("datasource") not in ALLOWED_DS:
                self.report(f, "datasource-ref", where, "panel datasource is not ${datasource}")
            targets = [t for t in p.get("targets") or [] if (t.get("expr") or "").strip()]
            if not targets:
                self.report(f, "panel-targets", where, "panel has no query")
            refids = [t.get("refId") for t in p.get("targets") or []]
            if len(set(refids)) != len(refids) or not all(refids):
                self.report(f, "target-refid", where, f"refIds missing or repeated: {refids}")
            for t in p.get("targets") or []:
                if t.get("datasource") not in ALLOWED_DS:
                    self.report(f, "datasource-ref", where,
                                f"target {t.get('refId')} datasource is not ${{datasource}}")
            if ptype in QUANTITY_PANELS:
                unit = ((p.get("fieldConfig") or {}).get("defaults") or {}).get("unit")
                if not unit:
                    self.report(f, "panel-unit", where, "panel shows a quantity but sets no unit")
            for t in targets:
                exprs.append((where, t["expr"]))
        for v in variables:
            if v.get("type") == "query":
                q = v.get("query")
                q = q.get("query") if isinstance(q, dict) else q
                exprs.append((f"variable {v.get('name')}", q or ""))

        for where, expr in exprs:
            self.lint_expr(f, where, expr, names)
            if any(re.search(r"(?<![A-Za-z0-9_:])" + m + r"(?![A-Za-z0-9_:])", expr)
                   for m in REQUEST_SERIES):
                uses_request_series = True

        if uses_request_series:
            for name in FILTER_VARS:
                v = next((x for x in variables if x.get("name") == name), None)
                if v is None:
                    self.report(f, "filter-variables", "templating",
                                f"dashboard queries request series but has no {name} variable")
                    continue
                q = v.get("query")
                q = q.get("query") if isinstance(q, dict) else q
                if not (v.get("multi") and v.get("includeAll")) or \
                        "llm_requests_total" not in (q or "") or "label_values" not in (q or ""):
                    self.report(f, "filter-variables", f"variable {name}",
                                "must be multi-select with All and query "
                                "label_values(llm_requests_total...)")

    def lint_expr(self, f, where, expr, var_names):
        if expr.count("(") != expr.count(")") or expr.count("{") != expr.count("}") or \
                expr.count("[") != expr.count("]"):
            self.report(f, "promql-balanced", where, f"unbalanced brackets: {expr}")
            return
        is_variable = where.startswith("variable")  # label_values(): not PromQL
        for name, enclosing in metric_uses(expr):
            if not is_variable and name.endswith(COUNTER_SUFFIXES) and not RANGE_FUNCS & set(enclosing):
                self.report(f, "counter-rate", where,
                            f"counter {name} used outside rate/irate/increase: {expr}")
        for fn, window in re.findall(r"\b(rate|irate|increase)\s*\([^()\[]*\[([^\]]*)\]", expr):
            window = window.strip()
            if window == "$__rate_interval" or (fn == "increase" and window in
                                                ("$__range", "${__range}")):
                continue
            if DURATION_RE.match(window) and duration_seconds(window) >= 3600:
                continue  # a deliberate long smoothing window (e.g. 24 h run rate)
            self.report(f, "rate-interval", where,
                        f"{fn}() window [{window}] must be $__rate_interval"
                        f"{' or $__range' if fn == 'increase' else ''} (or a literal >= 1h)")
        for ref in re.findall(r"\$\{?(\w+)", expr):
            if ref not in var_names and ref not in GRAFANA_BUILTINS:
                self.report(f, "undefined-variable", where, f"${ref} is not defined")
        if is_variable:
            return
        present = set(var_names)
        for metric, wanted in [(m, FILTER_VARS) for m in REQUEST_SERIES] + \
                              [(m + s, HIST_FILTER_VARS) for m in HISTOGRAM_SERIES
                               for s in ("_bucket", "_count", "_sum")]:
            for sel in selectors(expr, metric):
                for var in wanted:
                    if var in present and not re.search(
                            var + r'\s*=~\s*"\$\{?' + var + r'\}?"', sel):
                        self.report(f, "filter-applied", where,
                                    f"{metric} selector {sel or '(none)'} ignores ${var}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--expect", help="self-test: file listing rule ids that must fire")
    ap.add_argument("--docs", help="also require every dashboard uid and panel title "
                    "to appear in this markdown file (docs/dashboards.md)")
    ap.add_argument("dashboards", nargs="+")
    args = ap.parse_args()
    paths = []
    for p in args.dashboards:  # a directory stands for its *.json files
        paths += sorted(glob.glob(os.path.join(p, "*.json"))) if os.path.isdir(p) else [p]
    if not paths:
        print("no dashboards given")
        return 1
    findings = Linter().lint_files(paths)
    if args.docs:
        with open(args.docs, encoding="utf-8") as fh:
            doc = fh.read()
        for path in paths:
            with open(path, encoding="utf-8") as fh:
                d = json.load(fh)
            for what in [d.get("uid"), d.get("title")] + \
                    [p.get("title") for p in all_panels(d)]:
                if what and what not in doc:
                    findings.append((path, "documented", "", f"{what!r} is not described "
                                     f"in {args.docs}"))
    for fname, rule, where, msg in findings:
        print(f"{fname}: [{rule}] {where}: {msg}")
    if args.expect:
        with open(args.expect, encoding="utf-8") as fh:
            expected = {l.split("#")[0].strip() for l in fh} - {""}
        fired = {r for _, r, _, _ in findings}
        missing = sorted(expected - fired)
        if missing:
            print(f"SELF-TEST FAILED: rules that did not fire on the bad dashboards: {missing}")
            return 1
        print(f"self-test ok: all {len(expected)} expected rules fired")
        return 0
    if findings:
        print(f"{len(findings)} finding(s)")
        return 1
    print(f"{len(paths)} dashboard(s) clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
