#!/usr/bin/python3
"""Generates grafana/dashboards/*.json, the four llm-cost-exporter dashboards.

The JSON files are the shipped artefact (provisioned from disk or imported by
hand); this script is how they are written, so that every panel gets the same
datasource reference, filters and units and a change is reviewed as code, not as
a 3000-line JSON diff. Edit this file, run it, commit both:

    /usr/bin/python3 grafana/generate_dashboards.py           # rewrite the JSON
    /usr/bin/python3 grafana/generate_dashboards.py --check   # CI: JSON up to date?

Standard library only. What each panel shows is documented in docs/dashboards.md.
"""
import argparse
import json
import os
import re
import subprocess
import sys

# What Grafana 11.6 (the version docker-compose.yml pins) writes. The JSON already
# has the shape the v40/v41 migrations produce (refresh is a string, no
# timepicker.time_options), so Grafana 10.4-11.5 load it unchanged and 12.x
# migrates it forward on load.
SCHEMA_VERSION = 41

# The one datasource reference every panel, target and variable uses. A uid would
# break import into another Grafana; ${DS_...}/__inputs break file provisioning
# (grafana/grafana#10786). The `datasource` variable works for both.
DS = {"type": "prometheus", "uid": "${datasource}"}

TAG = "llm-cost"

UID_OVERVIEW = "llm-cost-overview"
UID_CHARGEBACK = "llm-cost-chargeback"
UID_EFFICIENCY = "llm-cost-efficiency"
UID_HEALTH = "llm-cost-exporter-health"

# Label filters. Request-level series carry provider, model and the attribution
# labels; histograms carry provider, model and feature only (docs/metrics.md), so
# the tenant filter cannot apply to them.
F = 'provider=~"$provider", model=~"$model", feature=~"$feature", tenant=~"$tenant"'
HF = 'provider=~"$provider", model=~"$model", feature=~"$feature"'
I = 'instance=~"$instance"'

# All input-side token types: Anthropic's four input counts are disjoint, so the
# share of input served from cache is cache_read over their sum.
INPUT_SIDE = 'token_type=~"input|cache_read|cache_write_5m|cache_write_1h"'

RI = "$__rate_interval"
RANGE = "$__range"

# Seconds left in the current UTC month. day_of_month()/days_in_month() evaluate
# at query time, so the window follows the calendar instead of the time picker.
SECONDS_LEFT_IN_MONTH = (
    "(days_in_month() * 86400 - ((day_of_month() - 1) * 86400 + time() % 86400))")


def sel(*matchers):
    """Joins label matchers into one selector body."""
    return ", ".join(matchers)


# Filters plus one more matcher (f-string expressions cannot hold quotes).
F_CACHE_READ = sel(F, 'token_type="cache_read"')
F_FAILED = sel(F, 'status!="ok"')
F_RATE_LIMITED = sel(F, 'status="rate_limited"')
F_OVERLOADED = sel(F, 'status="overloaded"')
F_OK = sel(F, 'status="ok"')
F_OUTPUT = sel(F, 'token_type="output"')
F_CACHE_WRITE = sel(F, 'token_type=~"cache_write_.*"')
I_REJECTED = sel(I, 'result="rejected"')
F_INPUT_SIDE = sel(F, INPUT_SIDE)
TOKEN_TYPE = {tt: f'token_type="{tt}"' for tt in ("input", "output", "cache_read")}


def rate(metric, matchers, window=RI):
    return f"rate({metric}{{{matchers}}}[{window}])"


def increase(metric, matchers, window=RANGE):
    return f"increase({metric}{{{matchers}}}[{window}])"


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self):
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def pos(self, w, h):
        if self.x + w > 24:
            self.newline()
        p = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return p

    def newline(self):
        self.y += self.row_h
        self.x = 0
        self.row_h = 0

    def pid(self):
        i = self.next_id
        self.next_id += 1
        return i


def target(expr, legend="__auto", ref="A", instant=False, table=False):
    t = {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "refId": ref,
        "range": not instant,
        "instant": instant,
    }
    if table:
        t["format"] = "table"
    return t


def thresholds(*steps):
    """steps: (color, value) pairs after the base color."""
    base = [{"color": "green", "value": None}]
    return {"mode": "absolute",
            "steps": base + [{"color": c, "value": v} for c, v in steps]}


class Dash:
    def __init__(self, uid, title, description, variables, time_from="now-6h",
                 refresh="1m"):
        self.uid = uid
        self.title = title
        self.description = description
        self.variables = variables
        self.time_from = time_from
        self.refresh = refresh
        self.lay = Layout()
        self.panels = []

    def row(self, title):
        self.lay.newline()
        self.panels.append({
            "type": "row", "title": title, "collapsed": False, "panels": [],
            "id": self.lay.pid(), "gridPos": self.lay.pos(24, 1)})
        self.lay.newline()

    def add(self, ptype, title, description, targets, unit, w, h, *,
            options=None, custom=None, defaults=None, overrides=None,
            transformations=None, time_from=None, interval=None, links=None):
        fd = {"unit": unit}
        if custom:
            fd["custom"] = custom
        if defaults:
            fd.update(defaults)
        p = {
            "type": ptype,
            "title": title,
            "description": description,
            "datasource": DS,
            "id": self.lay.pid(),
            "gridPos": self.lay.pos(w, h),
            "targets": [dict(t, refId=t.get("refId") if len(targets) == 1 else chr(65 + i))
                        for i, t in enumerate(targets)],
            "fieldConfig": {"defaults": fd, "overrides": overrides or []},
            "options": options or {},
        }
        if transformations:
            p["transformations"] = transformations
        if time_from:
            # Panel time override: "now/d" = today so far, "now/M" = this month so
            # far. $__range inside the panel then spans exactly that window.
            p["timeFrom"] = time_from
        if interval:
            p["interval"] = interval
        if links:
            p["links"] = links
        self.panels.append(p)
        return p

    # Panel shapes used throughout -------------------------------------------
    def timeseries(self, title, description, targets, unit, w=8, h=8, *,
                   stack=False, axis_label="", min_=None, max_=None, overrides=None,
                   legend_calcs=("mean", "lastNotNull", "max")):
        custom = {
            "drawStyle": "line", "lineWidth": 1, "fillOpacity": 25 if stack else 10,
            "showPoints": "never", "spanNulls": False, "axisLabel": axis_label,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        }
        defaults = {}
        if min_ is not None:
            defaults["min"] = min_
        if max_ is not None:
            defaults["max"] = max_
        return self.add("timeseries", title, description, targets, unit, w, h,
                        custom=custom, defaults=defaults, overrides=overrides,
                        options={
                            "legend": {"displayMode": "table", "placement": "bottom",
                                       "showLegend": True, "calcs": list(legend_calcs),
                                       "sortBy": "Mean", "sortDesc": True},
                            "tooltip": {"mode": "multi", "sort": "desc"}})

    def stat(self, title, description, targets, unit, w=4, h=4, *, decimals=None,
             th=None, time_from=None, mappings=None, text_mode="auto", sparkline=False):
        defaults = {"thresholds": th or {"mode": "absolute", "steps": [
            {"color": "blue", "value": None}]}}
        if decimals is not None:
            defaults["decimals"] = decimals
        if mappings:
            defaults["mappings"] = mappings
        defaults["color"] = {"mode": "thresholds"}
        return self.add("stat", title, description, targets, unit, w, h,
                        defaults=defaults, time_from=time_from,
                        options={"reduceOptions": {"calcs": ["lastNotNull"],
                                                   "fields": "", "values": False},
                                 "colorMode": "value",
                                 "graphMode": "area" if sparkline else "none",
                                 "justifyMode": "auto", "textMode": text_mode,
                                 "orientation": "auto"})

    def table(self, title, description, targets, unit, w=8, h=8, *, columns=None,
              sort=None, hide=(), links=None, extra_transforms=None, time_from=None):
        """Instant table. columns: {field name: (display name, unit)} for merged
        multi-query tables (fields are 'Value #A', 'Value #B', ...)."""
        overrides = []
        rename = {}
        for field, (display, funit) in (columns or {}).items():
            rename[field] = display
            if funit:
                overrides.append({"matcher": {"id": "byName", "options": display},
                                  "properties": [{"id": "unit", "value": funit}]})
        transforms = []
        if len(targets) > 1:
            transforms.append({"id": "merge", "options": {}})
        transforms.extend(extra_transforms or [])
        exclude = {"Time": True}
        exclude.update({h_: True for h_ in hide})
        transforms.append({"id": "organize", "options": {
            "excludeByName": exclude, "renameByName": rename}})
        opts = {"showHeader": True, "cellHeight": "sm",
                "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
        if sort:
            opts["sortBy"] = [{"displayName": sort, "desc": True}]
        defaults = {"custom": {"align": "auto", "filterable": True}}
        if links:
            # Data links (cell click), not panel links: only they can use the
            # clicked row's label value (${__data.fields.<label>}).
            defaults["links"] = links
        return self.add("table", title, description, targets, unit, w, h,
                        options=opts, overrides=overrides, transformations=transforms,
                        time_from=time_from, defaults=defaults)

    def pie(self, title, description, targets, unit, w=6, h=8):
        return self.add("piechart", title, description, targets, unit, w, h,
                        options={"pieType": "donut",
                                 "reduceOptions": {"calcs": ["lastNotNull"],
                                                   "fields": "", "values": False},
                                 "legend": {"displayMode": "table", "placement": "right",
                                            "showLegend": True,
                                            "values": ["value", "percent"]},
                                 "tooltip": {"mode": "single", "sort": "none"}})

    def render(self):
        return {
            "id": None,
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": [TAG, "llm", "prometheus"],
            "editable": True,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,
            "liveNow": False,
            # UTC so that "today" and "this month" (now/d, now/M) match the UTC
            # calendar used by the budget rules and by the provider's invoices.
            "timezone": "utc",
            "weekStart": "",
            "refresh": self.refresh,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "annotations": {"list": []},
            "links": [{
                "title": "LLM cost dashboards", "type": "dashboards", "tags": [TAG],
                "asDropdown": False, "includeVars": True, "keepTime": True,
                "targetBlank": False, "icon": "external link", "tooltip": "", "url": ""}],
            "templating": {"list": self.variables},
            "panels": self.panels,
        }


# Variables -----------------------------------------------------------------
def ds_var():
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "includeAll": False,
            "multi": False, "options": [], "refresh": 1, "regex": "",
            "skipUrlSync": False}


def query_var(name, label, query):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": query, "definition": query,
            # Refresh on time range change, so values that appeared recently
            # (a new model, a new tenant) are offered.
            "refresh": 2, "multi": True, "includeAll": True,
            # ".*" instead of Grafana's default "a|b|c": keeps queries short with
            # hundreds of tenants and still matches values not in the list yet.
            "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "options": [], "regex": "", "sort": 1, "hide": 0, "skipUrlSync": False}


def request_vars():
    return [
        ds_var(),
        query_var("provider", "Provider", "label_values(llm_requests_total, provider)"),
        query_var("model", "Model",
                  'label_values(llm_requests_total{provider=~"$provider"}, model)'),
        query_var("feature", "Feature",
                  'label_values(llm_requests_total{provider=~"$provider", '
                  'model=~"$model"}, feature)'),
        query_var("tenant", "Tenant",
                  'label_values(llm_requests_total{provider=~"$provider", '
                  'model=~"$model", feature=~"$feature"}, tenant)'),
    ]


def custom_var(name, label, values, default):
    return {"name": name, "label": label, "type": "custom",
            "query": ",".join(values), "multi": False, "includeAll": False,
            "current": {"selected": True, "text": default, "value": default},
            "options": [{"selected": v == default, "text": v, "value": v}
                        for v in values],
            "hide": 0, "skipUrlSync": False}


# Shared expressions ----------------------------------------------------------
def cost_rate_per_hour(by=None):
    agg = f"sum by ({by})" if by else "sum"
    return f"{agg} ({rate('llm_cost_usd_total', F)}) * 3600"


def cache_hit_ratio(by=None):
    agg = f"sum by ({by})" if by else "sum"
    reads = f"{agg} ({rate('llm_tokens_total', F_CACHE_READ)})"
    total = f'{agg} ({rate("llm_tokens_total", F + ", " + INPUT_SIDE)})'
    # "or total*0": a selection that reads nothing from the cache shows 0%, not
    # "no data", which would look like a broken panel.
    return f"({reads} or {total} * 0) / {total}"


def net_savings_rate(by=None):
    agg = f"sum by ({by})" if by else "sum"
    sav = f"{agg} ({rate('llm_cache_savings_usd_total', F)})"
    prem = f"{agg} ({rate('llm_cache_write_premium_usd_total', F)})"
    return f"({sav} - ({prem} or {sav} * 0)) * 3600"


def quantile(q, metric, by="le", sel=HF):
    return f"histogram_quantile({q}, sum by ({by}) ({rate(metric + '_bucket', sel)}))"


MTD_COST = f"sum({increase('llm_cost_usd_total', F)})"
PROJECTION = (f"{MTD_COST} + sum({rate('llm_cost_usd_total', F, '1d')}) * "
              f"{SECONDS_LEFT_IN_MONTH}")
MONTH_BUDGET = 'max(llm_budget_usd{scope="global", period="month"})'

CURRENCY_TH = thresholds()


def chargeback_link(var, field):
    return [{"title": f"Chargeback for this {var}",
             "url": f"/d/{UID_CHARGEBACK}/llm-cost-chargeback?var-{var}=${{__data.fields.{field}:percentencode}}&${{__url_time_range}}&${{datasource:queryparam}}"}]


# Dashboards ----------------------------------------------------------------
def overview():
    d = Dash(UID_OVERVIEW, "LLM cost / Overview",
             "Where the money goes right now: spend rate, today, month to date and "
             "month-end projection against budget, by model/feature/tenant; tokens, "
             "cache, requests, errors, latency and firing alerts.",
             request_vars())

    d.row("Spend")
    d.stat("Spend rate now",
           "Current spend in USD per hour (rate over the last $__rate_interval, x 3600).",
           [target(cost_rate_per_hour())], "currencyUSD", decimals=2, sparkline=True)
    d.stat("Spend today (UTC)",
           "Spend since 00:00 UTC today. The panel's own time range is 'today so far' "
           "(now/d), whatever the dashboard time range is.",
           [target(MTD_COST, instant=True)], "currencyUSD", decimals=2, time_from="now/d")
    d.stat("Month to date (UTC)",
           "Spend since the first of this month, 00:00 UTC (panel time range now/M). "
           "Needs Prometheus retention of at least 31 days.",
           [target(MTD_COST, instant=True)], "currencyUSD", decimals=2, time_from="now/M")
    d.stat("Projected month end",
           "Month to date + the last 24 h average spend rate x the time left in the "
           "UTC month. Uses 24 h so day/night cycles do not swing the projection.",
           [target(PROJECTION, instant=True)], "currencyUSD", decimals=2,
           time_from="now/M")
    d.add("gauge", "Projected month end vs budget",
          "Projected month-end spend of the current selection as a share of the global "
          "monthly budget (llm_budget_usd{scope=\"global\",period=\"month\"}). No data "
          "means no global monthly budget is configured.",
          [target(f"({PROJECTION}) / on() {MONTH_BUDGET}", instant=True)],
          "percentunit", 4, 4, time_from="now/M",
          defaults={"min": 0, "max": 1.5, "decimals": 0,
                    "thresholds": thresholds(("yellow", 0.8), ("red", 1))},
          options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                     "values": False},
                   "showThresholdMarkers": True, "showThresholdLabels": False})
    d.stat("Monthly budget",
           "Global monthly budget from the exporter configuration.",
           [target(MONTH_BUDGET, instant=True)], "currencyUSD", decimals=0)

    d.row("Spend over time")
    for by in ("model", "feature", "tenant"):
        d.timeseries(f"Spend rate by {by}",
                     f"USD per hour by {by}, stacked: the top of the stack is the total.",
                     [target(cost_rate_per_hour(by), "{{" + by + "}}")], "currencyUSD",
                     stack=True, axis_label="USD/hour")
    d.timeseries("Spend rate by platform",
                 "USD per hour by platform, stacked: anthropic is the first-party API (what "
                 "Anthropic's billing reports cover); bedrock and vertex are billed by AWS "
                 "and Google Cloud.",
                 [target(cost_rate_per_hour("platform"), "{{platform}}")], "currencyUSD",
                 w=12, stack=True, axis_label="USD/hour")
    d.timeseries("Spend rate by service tier",
                 "USD per hour by service tier (standard, batch, priority), stacked: the "
                 "batch / interactive split. Priority-tier requests have no public price "
                 "and are counted as unpriced, not here.",
                 [target(cost_rate_per_hour("service_tier"), "{{service_tier}}")], "currencyUSD",
                 w=12, stack=True, axis_label="USD/hour")

    d.row("Top 10 in the selected time range")
    for by, link in (("model", None), ("feature", chargeback_link("feature", "feature")),
                     ("tenant", chargeback_link("tenant", "tenant"))):
        d.table(f"Top 10 {by}s by cost",
                f"The 10 {by}s with the highest spend over the dashboard time range.",
                [target(f"topk(10, sum by ({by}) ({increase('llm_cost_usd_total', F)}))",
                        instant=True, table=True)],
                "currencyUSD", columns={"Value": ("Cost", "currencyUSD")},
                sort="Cost", links=link)

    d.row("Tokens and cache")
    d.timeseries("Tokens by type",
                 "Tokens per second by token type (input, output, cache_read, "
                 "cache_write_5m, cache_write_1h).",
                 [target(f"sum by (token_type) ({rate('llm_tokens_total', F)})",
                         "{{token_type}}")], "short", stack=True, axis_label="tokens/s")
    d.timeseries("Cache hit ratio",
                 "Share of input-side tokens read from the prompt cache: cache_read / "
                 "(input + cache_read + cache_write_5m + cache_write_1h).",
                 [target(cache_hit_ratio(), "cache hit ratio")], "percentunit",
                 min_=0, max_=1)
    d.stat("Saved by caching (range)",
           "Over the dashboard time range: gross saving of cache reads, the extra paid "
           "for cache writes, and the net saving (gross - write premium).",
           [target(f"sum({increase('llm_cache_savings_usd_total', F)})", "gross saving",
                   instant=True),
            target(f"sum({increase('llm_cache_write_premium_usd_total', F)})",
                   "write premium", instant=True),
            target(f"sum({increase('llm_cache_savings_usd_total', F)}) - "
                   f"(sum({increase('llm_cache_write_premium_usd_total', F)}) or vector(0))",
                   "net saving", instant=True)],
           "currencyUSD", w=8, h=8, decimals=2)

    d.row("Requests, errors and latency")
    d.timeseries("Requests by status",
                 "Requests per second by status (ok, rate_limited, overloaded, "
                 "server_error, client_error, timeout, other_error).",
                 [target(f"sum by (status) ({rate('llm_requests_total', F)})",
                         "{{status}}")], "reqps", w=6, stack=True)
    total = f"sum({rate('llm_requests_total', F)})"
    d.timeseries("Error and 429 ratio",
                 "Share of requests that failed (any status but ok) and that were rate "
                 "limited (HTTP 429) or overloaded (529).",
                 [target(f"(sum({rate('llm_requests_total', F_FAILED)}) or {total} * 0) / {total}",
                         "errors (all)"),
                  target(f"(sum({rate('llm_requests_total', F_RATE_LIMITED)}) or {total} * 0) / {total}",
                         "rate limited (429)"),
                  target(f"(sum({rate('llm_requests_total', F_OVERLOADED)}) or {total} * 0) / {total}",
                         "overloaded (529)")],
                 "percentunit", w=6, min_=0)
    d.timeseries("Latency p50 / p95 / p99",
                 "End-to-end request latency quantiles from llm_request_duration_seconds "
                 "(the tenant filter does not apply: histograms carry no tenant label).",
                 [target(quantile(q, "llm_request_duration_seconds"), f"p{int(q * 100)}")
                  for q in (0.5, 0.95, 0.99)], "s", w=6)
    d.timeseries("Time to first token p50 / p95 / p99",
                 "Streaming time to first token quantiles (llm_time_to_first_token_seconds;"
                 " only requests that reported ttft_ms; no tenant filter).",
                 [target(quantile(q, "llm_time_to_first_token_seconds"),
                         f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)], "s", w=6)

    d.row("Alerts")
    d.table("Firing alerts",
            "Alerts of this project (alertname LLM...) that Prometheus is firing now, "
            "from the ALERTS series, with their labels. Empty is good.",
            [target('ALERTS{alertstate="firing", alertname=~"LLM.+"}', instant=True,
                    table=True)], "none",
            w=24, h=6, hide=("Value", "__name__", "alertstate"))
    return d


def chargeback():
    d = Dash(UID_CHARGEBACK, "LLM cost / Chargeback",
             "Cost per tenant and per feature over the selected time range, with share "
             "of total, cost per request and token mix. Set the time range to the "
             "billing period (e.g. 'Previous month'); tables export as CSV via panel "
             "menu > Inspect > Data > Download CSV.",
             request_vars(), time_from="now/M", refresh="5m")

    d.row("Totals for the selected time range")
    cost = f"sum({increase('llm_cost_usd_total', F)})"
    reqs = f"sum({increase('llm_requests_total', F)})"
    d.stat("Total cost", "Spend over the selected time range.",
           [target(cost, instant=True)], "currencyUSD", w=6, decimals=2)
    d.stat("Requests", "Requests (all statuses) over the selected time range.",
           [target(reqs, instant=True)], "short", w=6, decimals=0)
    d.stat("Cost per request", "Total cost / requests (all statuses).",
           [target(f"{cost} / {reqs}", instant=True)], "currencyUSD", w=6, decimals=4)
    d.stat("Tokens", "All tokens (input, output, cache reads and writes).",
           [target(f"sum({increase('llm_tokens_total', F)})", instant=True)], "short",
           w=6, decimals=0)

    for by in ("tenant", "feature"):
        d.row(f"By {by}")
        c = f"sum by ({by}) ({increase('llm_cost_usd_total', F)})"
        r = f"sum by ({by}) ({increase('llm_requests_total', F)})"
        d.table(f"Cost by {by}",
                f"Per {by}: cost, share of the total cost of the selection, requests, "
                "cost per request, input-side and output tokens.",
                [target(c, instant=True, table=True),
                 target(f"{c} / scalar({cost})", instant=True, table=True),
                 target(r, instant=True, table=True),
                 target(f"{c} / {r}", instant=True, table=True),
                 target(f"sum by ({by}) ({increase('llm_tokens_total', F_INPUT_SIDE)})",
                        instant=True, table=True),
                 target(f"sum by ({by}) ({increase('llm_tokens_total', F_OUTPUT)})",
                        instant=True, table=True)],
                "short", w=16, h=9,
                columns={"Value #A": ("Cost", "currencyUSD"),
                         "Value #B": ("Share of total", "percentunit"),
                         "Value #C": ("Requests", "short"),
                         "Value #D": ("Cost per request", "currencyUSD"),
                         "Value #E": ("Input tokens (incl. cache)", "short"),
                         "Value #F": ("Output tokens", "short")},
                sort="Cost")
        d.pie(f"Share of cost by {by}", f"Each {by}'s share of the selection's cost.",
              [target(c, "{{" + by + "}}", instant=True)], "currencyUSD", w=8, h=9)

    d.row("Chargeback export")
    by = "tenant, feature, model"
    d.table("Chargeback by tenant, feature and model (CSV export)",
            "One row per tenant x feature x model with cost, requests and tokens by type "
            "over the selected time range. Export: panel menu > Inspect > Data > "
            "Download CSV. Figures come from Prometheus increase(), which extrapolates "
            "at the range edges: use them for allocation, not to audit an invoice.",
            [target(f"sum by ({by}) ({increase('llm_cost_usd_total', F)})",
                    instant=True, table=True),
             target(f"sum by ({by}) ({increase('llm_requests_total', F)})",
                    instant=True, table=True)] +
            [target(f"sum by ({by}) ({increase('llm_tokens_total', sel(F, TOKEN_TYPE[tt]))})",
                    instant=True, table=True)
             for tt in ("input", "output", "cache_read")] +
            [target(f"sum by ({by}) ({increase('llm_tokens_total', F_CACHE_WRITE)})",
                    instant=True, table=True)],
            "short", w=24, h=12,
            columns={"Value #A": ("Cost (USD)", "currencyUSD"),
                     "Value #B": ("Requests", "short"),
                     "Value #C": ("Input tokens", "short"),
                     "Value #D": ("Output tokens", "short"),
                     "Value #E": ("Cache read tokens", "short"),
                     "Value #F": ("Cache write tokens", "short")},
            sort="Cost (USD)")

    d.row("Over time and token mix")
    d.timeseries("Spend rate by tenant", "USD per hour by tenant, stacked.",
                 [target(cost_rate_per_hour("tenant"), "{{tenant}}")], "currencyUSD",
                 w=12, stack=True, axis_label="USD/hour")
    d.table("Token mix by tenant",
            "Tokens by type per tenant over the selected time range (one column per "
            "token type).",
            [target(f"sum by (tenant, token_type) ({increase('llm_tokens_total', F)})",
                    instant=True, table=True)],
            "short", w=12, h=8,
            extra_transforms=[{"id": "groupingToMatrix", "options": {
                "columnField": "token_type", "rowField": "tenant", "valueField": "Value"}}])
    return d


def efficiency():
    v = request_vars() + [custom_var(
        "cache_target", "Cache hit target", ["0.3", "0.5", "0.6", "0.7", "0.8", "0.9"],
        "0.5")]
    d = Dash(UID_EFFICIENCY, "LLM cost / Efficiency",
             "Is the prompt cache working, are prompts growing, and which models carry "
             "the traffic and the cost.", v)

    d.row("Prompt cache")
    target_line = target("vector($cache_target)", "target", ref="Z")
    for by in ("model", "feature"):
        d.timeseries(f"Cache hit ratio by {by}",
                     f"Share of input-side tokens read from cache, by {by}, against the "
                     "target chosen in the 'Cache hit target' variable (dashed line).",
                     [target(cache_hit_ratio(by), "{{" + by + "}}"), target_line],
                     "percentunit", min_=0, max_=1,
                     overrides=[{"matcher": {"id": "byName", "options": "target"},
                                 "properties": [
                                     {"id": "custom.lineStyle",
                                      "value": {"fill": "dash", "dash": [10, 10]}},
                                     {"id": "color", "value": {"mode": "fixed",
                                                               "fixedColor": "red"}}]}])
    d.timeseries("Net cache saving by model",
                 "USD per hour saved by cache reads minus the premium paid for cache "
                 "writes. Below zero: the cache costs more than it saves (writes that "
                 "are never read back).",
                 [target(net_savings_rate("model"), "{{model}}")], "currencyUSD",
                 axis_label="USD/hour")

    d.row("Prompt growth and output")
    d.timeseries("Input tokens per request p50 / p95",
                 "Total input per request (fresh + cache read + cache writes) from "
                 "llm_request_input_tokens. A rising p95 is prompt or context growth "
                 "(no tenant filter: histograms carry no tenant label).",
                 [target(quantile(q, "llm_request_input_tokens"), f"p{int(q * 100)}")
                  for q in (0.5, 0.95)], "short", axis_label="tokens")
    d.timeseries("Input tokens per request p95 by feature",
                 "Which feature's prompts are growing.",
                 [target(quantile(0.95, "llm_request_input_tokens", "feature, le"),
                         "{{feature}}")], "short", axis_label="tokens")
    d.timeseries("Output / input token ratio by model",
                 "Output tokens as a share of input-side tokens, by model.",
                 [target(f"sum by (model) ({rate('llm_tokens_total', F_OUTPUT)}) / sum by (model) ({rate('llm_tokens_total', F_INPUT_SIDE)})",
                         "{{model}}")], "percentunit")

    d.row("Model mix and unit cost")
    d.pie("Model mix by requests", "Requests per model over the selected time range.",
          [target(f"sum by (model) ({increase('llm_requests_total', F)})", "{{model}}",
                  instant=True)], "short")
    d.pie("Model mix by cost", "Cost per model over the selected time range.",
          [target(f"sum by (model) ({increase('llm_cost_usd_total', F)})", "{{model}}",
                  instant=True)], "currencyUSD")
    d.timeseries("Average cost per successful request by model",
                 "Cost / successful requests (failed requests are not billed).",
                 [target(f"sum by (model) ({rate('llm_cost_usd_total', F)}) / sum by (model) ({rate('llm_requests_total', F_OK)})",
                         "{{model}}")], "currencyUSD", w=6)
    d.timeseries("Cost per request p95 by model",
                 "95th percentile of the cost of one priced request "
                 "(llm_request_cost_usd; bucket-resolution estimate; no tenant filter).",
                 [target(quantile(0.95, "llm_request_cost_usd", "model, le"),
                         "{{model}}")], "currencyUSD", w=6)
    return d


def health():
    v = [ds_var(), {
        "name": "instance", "label": "Exporter", "type": "query", "datasource": DS,
        "query": "label_values(llm_exporter_build_info, instance)",
        "definition": "label_values(llm_exporter_build_info, instance)",
        "refresh": 2, "multi": True, "includeAll": True, "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [], "regex": "", "sort": 1, "hide": 0, "skipUrlSync": False}]
    d = Dash(UID_HEALTH, "LLM cost / Exporter health",
             "Is the exporter receiving, accepting and pricing events, and is it "
             "healthy: rejections, label overflow, unpriced models, series, scrape, "
             "price table and build.", v, time_from="now-3h", refresh="30s")

    d.row("Status")
    up_map = [{"type": "value", "options": {
        "0": {"text": "DOWN", "color": "red", "index": 0},
        "1": {"text": "UP", "color": "green", "index": 1}}}]
    d.stat("Scrape up", "Prometheus' up series for each exporter instance.",
           [target(f"up{{{I}}}", "{{instance}}", instant=True)], "none",
           mappings=up_map, th={"mode": "absolute", "steps": [
               {"color": "red", "value": None}, {"color": "green", "value": 1}]})
    d.stat("Uptime", "Time since the exporter process started.",
           [target(f"time() - process_start_time_seconds{{{I}}}", "{{instance}}",
                   instant=True)], "s")
    d.table("Build", "Version and revision of each exporter (llm_exporter_build_info).",
            [target(f"llm_exporter_build_info{{{I}}}", instant=True, table=True)], "none",
            w=8, h=4, hide=("Value", "__name__", "job"))
    d.table("Price table", "Which price table each exporter loaded "
            "(llm_exporter_pricing_info).",
            [target(f"llm_exporter_pricing_info{{{I}}}", instant=True, table=True)],
            "none", w=8, h=4, hide=("Value", "__name__", "job"))
    d.stat("Price table age", "Time since the loaded price table's as_of date. Prices "
           "change; an old table under-reports new models and price changes.",
           [target(f"time() - llm_exporter_pricing_as_of_timestamp_seconds{{{I}}}",
                   "{{instance}}", instant=True)], "dtdurations",
           th=thresholds(("yellow", 60 * 86400), ("red", 120 * 86400)))
    d.stat("Priced models", "Models in the loaded price table.",
           [target(f"llm_exporter_pricing_models{{{I}}}", "{{instance}}", instant=True)],
           "short")
    d.stat("Last price reload", "1 if the last price table (re)load succeeded; 0 if "
           "it failed and the previous table is still in use.",
           [target(f"llm_exporter_pricing_last_reload_successful{{{I}}}", "{{instance}}",
                   instant=True)], "none",
           mappings=[{"type": "value", "options": {
               "0": {"text": "FAILED", "color": "red", "index": 0},
               "1": {"text": "OK", "color": "green", "index": 1}}}])
    d.stat("Price reloads (range)", "Price table loads by result in the time range.",
           [target(f"sum by (result) ({increase('llm_exporter_pricing_reloads_total', I)})",
                   "{{result}}", instant=True)], "short", decimals=0)

    d.row("Ingest")
    d.timeseries("Events by transport and result",
                 "Events received per second, accepted and rejected, per transport.",
                 [target(f"sum by (transport, result) ({rate('llm_exporter_events_total', I)})",
                         "{{transport}} {{result}}")], "short", axis_label="events/s")
    d.timeseries("Rejected events by reason",
                 "Why events were refused (empty, malformed_json, not_object, "
                 "missing_model, bad_field, too_large) per transport: points at the "
                 "broken client.",
                 [target(f"sum by (transport, reason) ({rate('llm_exporter_events_rejected_total', I)})",
                         "{{transport}} {{reason}}")], "short", axis_label="events/s")
    d.timeseries("Rejected ratio", "Rejected events / all events received.",
                 [target(f"sum({rate('llm_exporter_events_total', I_REJECTED)}) / sum({rate('llm_exporter_events_total', I)})",
                         "rejected")], "percentunit", min_=0)
    d.timeseries("UDP datagrams dropped by the kernel",
                 "Datagrams the kernel dropped because the exporter's UDP receive queue "
                 "was full (llm_exporter_udp_receive_dropped_total): spend that was sent "
                 "and never counted. Should be zero; see the LLMCostExporterUdpDrops runbook.",
                 [target(f"sum by (instance) ({rate('llm_exporter_udp_receive_dropped_total', I)})",
                         "{{instance}}")], "short", axis_label="datagrams/s", min_=0)
    d.timeseries("State checkpoints",
                 "State file writes per second by result (--storage.path); failures mean "
                 "a restart would lose what came after the last good checkpoint.",
                 [target(f"sum by (instance, result) ({rate('llm_exporter_state_checkpoints_total', I)})",
                         "{{instance}} {{result}}")], "short", axis_label="checkpoints/s", min_=0)
    d.table("Unpriced requests (range)",
            "Requests that could not be priced, by model and reason, over the time range. "
            "Their cost is missing from every cost panel: add the model to the price "
            "table.",
            [target(f"sum by (provider, model, reason) ({increase('llm_unpriced_requests_total', I)}) > 0",
                    instant=True, table=True)], "short",
            w=12, h=7, columns={"Value": ("Requests", "short")}, sort="Requests")
    d.table("Label overflow (range)",
            "Label values folded into __overflow__ because a label hit its cardinality "
            "cap, by label. Anything here means attribution is incomplete.",
            [target(f"sum by (label) ({increase('llm_exporter_label_overflow_total', I)}) > 0",
                    instant=True, table=True)], "short",
            w=12, h=7, columns={"Value": ("Values folded", "short")}, sort="Values folded")

    # Reconciliation with the bill (docs/reconciliation.md): only the exporter that
    # polls Anthropic's Admin API (--reconcile.admin-key-file) has these series.
    d.row("Reconciliation with the bill")
    d.timeseries("Billed drift by model",
                 "Instrumented / billed - 1 per model on the last settled UTC day "
                 "(llm_billed_drift_ratio, instrumented summed over replicas): "
                 "LLMBilledCostDrift tickets above 2% for models billed at least 1 USD. "
                 "Empty without --reconcile.admin-key-file.",
                 [target(f'max by (model) (llm_billed_drift_ratio{{{I}, period="last_settled_day"}})',
                         "{{model}}")], "percentunit", w=12)
    d.table("Billed cost by model, month to date (settled)",
            "Per model, what Anthropic billed (Admin API) from the first of the month "
            "through the last settled day; the exporters' side is llm_instrumented_cost_usd.",
            [target(f'max by (model) (llm_billed_cost_usd{{{I}, period="month_to_date_settled"}})',
                    instant=True, table=True)], "currencyUSD",
            w=6, h=8, columns={"Value": ("Billed", "currencyUSD")}, sort="Billed")
    d.timeseries("Billing polls by result",
                 "Polls of the Admin API per hour by result (llm_reconcile_polls_total): "
                 "anything but success means the billed figures are the last good ones.",
                 [target(f"sum by (result) (increase(llm_reconcile_polls_total{{{I}}}[1h]))",
                         "{{result}}")], "short", w=6)

    d.row("Series and scrape")
    d.timeseries("Request label sets held",
                 "Distinct request label sets the exporter holds (llm_exporter_label_sets);"
                 " each is a group of series.",
                 [target(f"llm_exporter_label_sets{{{I}}}", "{{instance}}")], "short")
    d.timeseries("Samples per scrape",
                 "Samples returned by each scrape and series added (Prometheus' "
                 "scrape_samples_scraped / scrape_series_added).",
                 [target(f"scrape_samples_scraped{{{I}}}", "{{instance}} samples"),
                  target(f"scrape_series_added{{{I}}}", "{{instance}} series added")],
                 "short")
    d.timeseries("Scrape duration",
                 "How long Prometheus takes to scrape the exporter.",
                 [target(f"scrape_duration_seconds{{{I}}}", "{{instance}}")], "s")

    d.row("Process")
    d.timeseries("CPU", "CPU used by the exporter process (1 = one core).",
                 [target(f"rate(process_cpu_seconds_total{{{I}}}[{RI}])", "{{instance}}")],
                 "percentunit")
    d.timeseries("Resident memory", "Resident set size of the exporter process.",
                 [target(f"process_resident_memory_bytes{{{I}}}", "{{instance}}")],
                 "bytes")
    d.timeseries("Open file descriptors", "Open fds as a share of the process limit.",
                 [target(f"process_open_fds{{{I}}} / process_max_fds{{{I}}}",
                         "{{instance}}")], "percentunit", min_=0)
    return d


DASHBOARDS = {
    "llm-cost-overview.json": overview,
    "llm-cost-chargeback.json": chargeback,
    "llm-cost-efficiency.json": efficiency,
    "llm-cost-exporter-health.json": health,
}


# Attribution label names by role, from the monitoring config
# (prometheus/mixin/config.yml `labels`; prometheus/mixin/generate.py calls
# configure()). Panels are written with the role names; a deployment that renames
# a label gets it renamed in every query, legend, variable and link.
LABEL_NAMES = {"feature": "feature", "tenant": "tenant", "route": "route"}
MIXIN_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "prometheus", "mixin", "config.yml")
QUERY_KEYS = ("expr", "legendFormat", "query", "definition", "url")


def configure(cfg):
    for role in LABEL_NAMES:
        LABEL_NAMES[role] = cfg["labels"][role]


def rename_labels(node):
    renames = {r: n for r, n in LABEL_NAMES.items() if r != n}
    if not renames:
        return node
    pattern = re.compile(r"(?<![\w.])(" + "|".join(renames) + r")(?!\w)")

    def fix(s):
        return pattern.sub(lambda m: renames[m.group(1)], s)

    def walk(n, in_templating=False):
        if isinstance(n, dict):
            for k, v in n.items():
                if isinstance(v, str) and (k in QUERY_KEYS or (in_templating and k in ("name", "label"))):
                    n[k] = fix(v)
                else:
                    walk(v, in_templating or k == "templating")
        elif isinstance(n, list):
            for v in n:
                walk(v, in_templating)
        return n
    return walk(node)


def render_all():
    return {name: json.dumps(rename_labels(fn().render()), indent=2, ensure_ascii=False) + "\n"
            for name, fn in DASHBOARDS.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="fail if the JSON files differ from what this script writes")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "dashboards"))
    args = ap.parse_args()
    try:
        import yaml  # Debian python3-yaml; without it the role names are the defaults
        with open(MIXIN_CONFIG, encoding="utf-8") as f:
            configure(yaml.safe_load(f))
    except ImportError:
        pass
    stale = []
    for name, text in render_all().items():
        path = os.path.join(args.out, name)
        if args.check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        else:
            os.makedirs(args.out, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        print("out of date (run grafana/generate_dashboards.py): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    if not args.check and os.path.abspath(args.out) == os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "dashboards"):
        # The dashboards are also shipped as Kubernetes ConfigMaps: the monitoring
        # generator rewrites those (and everything else it owns) too.
        mixin = os.path.join(os.path.dirname(MIXIN_CONFIG), "generate.py")
        return subprocess.call([sys.executable, mixin])
    return 0


if __name__ == "__main__":
    sys.exit(main())
