"""Replays tests/state/golden_v1/events.json against a running exporter (the real
binary, through tests/lib), so the golden state files are produced by real traffic.
Shared by make_golden.py (which writes the fixture) and the upgrade tests (which
compute the expected values from the same events, independently of the exporter)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from exporter_process import total  # noqa: E402

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_v1")


def load_events():
    with open(os.path.join(GOLDEN_DIR, "events.json")) as f:
        return json.load(f)


def padded_body(size):
    """A valid event padded with spaces to `size` bytes: refused as too large."""
    body = '{"model":"claude-haiku-4-5"}'
    return body + " " * (size - len(body))


def replay(exporter, steps):
    """Runs every step; returns the HTTP statuses of the posts, in order."""
    statuses = []
    for step in steps:
        if "http" in step or "http_padded" in step:
            body = step["http"] if "http" in step else padded_body(step["http_padded"])
            statuses.append(exporter.post(body.encode())[0])
        elif "udp" in step:
            before = total(exporter.scrape(), "llm_exporter_events_total", transport="udp")
            exporter.send_udp(step["udp"])
            deadline = time.time() + 5
            while total(exporter.scrape(), "llm_exporter_events_total", transport="udp") == before:
                if time.time() > deadline:
                    raise RuntimeError("udp datagram not counted: %r" % step["udp"])
                time.sleep(0.02)
        elif "settle" in step:
            exporter.settle()
    return statuses


# ---- What the exporter must show after that traffic, computed here from the events
# and the published rates (USD per million tokens, shared/design/pricing-facts.md as
# of the fixture, 2026-12-01), never from the exporter's own code.
RATES = {  # input, output, cache_read, cache_write_5m, cache_write_1h
    "claude-sonnet-4-5": (3, 15, 0.30, 3.75, 6),
    "claude-opus-4-6": (5, 25, 0.50, 6.25, 10),
    "claude-haiku-4-5": (1, 5, 0.10, 1.25, 2),
}
WEB_SEARCH_USD = 10 / 1000
BATCH_FACTOR = 0.5
TOKEN_TYPES = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")
HTTP_STATUS = {429: "rate_limited", 529: "overloaded", 500: "server_error", 400: "client_error"}
ERROR_TYPE = {"timeout_error": "timeout"}
HISTOGRAMS = ("llm_request_duration_seconds", "llm_time_to_first_token_seconds", "llm_request_input_tokens",
              "llm_request_output_tokens", "llm_request_cost_usd")


def sanitize(v):
    v = "".join("_" if ord(c) < 0x20 else c for c in v.strip())
    return v or "unknown"


class Expected:
    """Counters {(name, frozenset(labels)): value} and histogram observations
    {(name, frozenset(labels)): [values]} for the traffic in events.json."""

    def __init__(self, events):
        self.counters, self.observations = {}, {}
        self.caps = {"feature": 500, "tenant": 3, "route": 500}  # events.json's config
        self.admitted = {k: [] for k in self.caps}
        self.ids = set()
        for step in events["steps"]:
            if "http_padded" in step:
                self.reject("http", "too_large")
            elif "http" in step:
                self.body("http", step["http"])
            elif "udp" in step:
                self.body("udp", step["udp"])

    def add(self, name, labels, v):
        key = (name, frozenset(labels.items()))
        self.counters[key] = self.counters.get(key, 0) + v

    def observe(self, name, labels, v):
        self.observations.setdefault((name, frozenset(labels.items())), []).append(v)

    def reject(self, transport, reason):
        self.add("llm_exporter_events_total", {"transport": transport, "result": "rejected"}, 1)
        self.add("llm_exporter_events_rejected_total", {"transport": transport, "reason": reason}, 1)

    def body(self, transport, text):
        if not text.strip():
            return self.reject(transport, "empty")
        try:
            parsed = json.loads(text)
        except ValueError:
            return self.reject(transport, "malformed_json")
        for ev in parsed if isinstance(parsed, list) else [parsed]:
            self.event(transport, ev)

    def label(self, name, raw):
        v = sanitize(raw)
        if v in self.admitted[name]:
            return v
        if len(self.admitted[name]) >= self.caps[name]:
            self.add("llm_exporter_label_overflow_total", {"label": name}, 1)
            return "__overflow__"
        self.admitted[name].append(v)
        return v

    def event(self, transport, ev):
        if not isinstance(ev, dict):
            return self.reject(transport, "not_object")
        if "model" not in ev:
            return self.reject(transport, "missing_model")
        usage = ev.get("usage", {})
        if any(isinstance(v, int) and v < 0 for v in usage.values()):
            return self.reject(transport, "bad_field")
        if "request_id" in ev:
            if ev["request_id"] in self.ids:
                return self.reject(transport, "duplicate")
            self.ids.add(ev["request_id"])
        self.add("llm_exporter_events_total", {"transport": transport, "result": "accepted"}, 1)

        provider, model = ev.get("provider", "anthropic"), ev["model"]
        raw = ev.get("labels", {})
        group = {"provider": provider, "model": model}
        for name in ("feature", "tenant", "route"):
            group[name] = self.label(name, raw.get(name, ""))
        status = ev.get("status", "ok")
        status = HTTP_STATUS.get(status, status)
        status = ERROR_TYPE.get(ev.get("error_type"), status)
        self.add("llm_requests_total", dict(group, status=status), 1)

        cw = usage.get("cache_creation", {})
        tokens = dict(zip(TOKEN_TYPES, (usage.get("input_tokens", 0), usage.get("output_tokens", 0),
                                        usage.get("cache_read_input_tokens", 0),
                                        cw.get("ephemeral_5m_input_tokens", 0),
                                        cw.get("ephemeral_1h_input_tokens", 0))))
        for t, n in tokens.items():
            self.add("llm_tokens_total", dict(group, token_type=t), n)

        hist = {"provider": provider, "model": model, "feature": group["feature"]}
        if "latency_ms" in ev:
            self.observe("llm_request_duration_seconds", hist, ev["latency_ms"] / 1000)
        if "ttft_ms" in ev:
            self.observe("llm_time_to_first_token_seconds", hist, ev["ttft_ms"] / 1000)
        total_input = tokens["input"] + tokens["cache_read"] + tokens["cache_write_5m"] + tokens["cache_write_1h"]
        if total_input or tokens["output"]:
            self.observe("llm_request_input_tokens", hist, total_input)
            self.observe("llm_request_output_tokens", hist, tokens["output"])

        cost = {}
        if "cost_usd" in ev:
            cost = {"client_reported": ev["cost_usd"]}
        elif status != "ok":
            pass  # failed requests are not billed
        elif model not in RATES:
            self.add("llm_unpriced_requests_total", {"provider": provider, "model": model, "reason": "unknown_model"}, 1)
        elif usage.get("service_tier") == "priority":
            self.add("llm_unpriced_requests_total", {"provider": provider, "model": model, "reason": "no_tier_price"}, 1)
        elif usage.get("speed") == "fast":  # none of these models has a fast-mode price
            self.add("llm_unpriced_requests_total", {"provider": provider, "model": model,
                                                     "reason": "unsupported_option"}, 1)
        else:
            factor = BATCH_FACTOR if ev.get("batch") else 1
            rates = dict(zip(TOKEN_TYPES, (r * factor for r in RATES[model])))
            cost = {t: tokens[t] * rates[t] / 1e6 for t in TOKEN_TYPES}
            cost["web_search"] = usage.get("server_tool_use", {}).get("web_search_requests", 0) * WEB_SEARCH_USD
            self.add("llm_cache_savings_usd_total", group,
                     tokens["cache_read"] * (rates["input"] - rates["cache_read"]) / 1e6)
            self.add("llm_cache_write_premium_usd_total", group,
                     (tokens["cache_write_5m"] * (rates["cache_write_5m"] - rates["input"]) +
                      tokens["cache_write_1h"] * (rates["cache_write_1h"] - rates["input"])) / 1e6)
        for t, usd in cost.items():
            self.add("llm_cost_usd_total", dict(group, cost_type=t), usd)
        if cost:
            self.observe("llm_request_cost_usd", hist, sum(cost.values()))

    def compare(self, samples, testcase):
        """Asserts that `samples` (a parsed scrape) holds exactly these values:
        every expected one, and no other non-zero value of the same metrics."""
        names = {n for n, _ in self.counters}
        for key, v in self.counters.items():
            if key not in samples:
                testcase.fail("missing series %s %s" % (key[0], dict(key[1])))
            testcase.assertAlmostEqual(samples[key], v, places=12, msg=str(key))
        for (n, labels), v in samples.items():
            if n in names and v != 0:
                if (n, labels) not in self.counters:
                    testcase.fail("unexpected series %s%s = %s" % (n, dict(labels), v))
        hist_series = set()
        for (name, labels), obs in self.observations.items():
            hist_series.add((name, labels))
            testcase.assertEqual(samples.get((name + "_count", labels)), len(obs), name + str(dict(labels)))
            testcase.assertAlmostEqual(samples.get((name + "_sum", labels)), sum(obs), places=9,
                                       msg=name + str(dict(labels)))
            for (n, bl), v in samples.items():
                if n == name + "_bucket" and frozenset(x for x in bl if x[0] != "le") == labels:
                    le = float(dict(bl)["le"])
                    testcase.assertEqual(v, sum(1 for o in obs if o <= le), "%s le=%s %s" % (name, le, dict(labels)))
        for (n, labels), v in samples.items():
            if n.endswith("_count") and n[:-6] in HISTOGRAMS and v != 0:
                if (n[:-6], labels) not in hist_series:
                    testcase.fail("unexpected histogram %s%s" % (n, dict(labels)))
