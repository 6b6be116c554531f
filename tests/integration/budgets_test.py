"""Issue 14 through the real binary: the spend ledger (llm_spend_usd) survives a
restart with --storage.path exactly; GET /v1/budgets and /v1/prices on the ingest
listener. Every expected figure is computed here from the events sent and the
published per-million rates (claude-haiku-4-5: $1 input, $5 output per MTok)."""
import calendar
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import http.client as http_client_module

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from exporter_process import Exporter, value  # noqa: E402
from http_client import http  # noqa: E402

SOURCE_DIR = os.environ["SOURCE_DIR"]
BINARY = os.environ["EXPORTER_BINARY"]
PRICES = os.path.join(SOURCE_DIR, "exporter", "pricing", "prices.yml")

# A route budget needs the monitoring config that says rules cover route budgets
# (issue 18: the exporter refuses a budget no rule can alert on). This is what a
# user with a route budget does: copy the config, add the role, regenerate, pass it.
MONITORING_DIR = tempfile.mkdtemp(prefix="llm-cost-budgets-monitoring-")
MONITORING = os.path.join(MONITORING_DIR, "config.yml")
with open(os.path.join(SOURCE_DIR, "prometheus", "mixin", "config.yml")) as _f:
    _text = _f.read()
assert "budget_scopes: [feature, tenant]" in _text, "the shipped monitoring config changed: update this test"
with open(MONITORING, "w") as _f:
    _f.write(_text.replace("budget_scopes: [feature, tenant]", "budget_scopes: [feature, tenant, route]"))
MONITORING_FLAG = "--monitoring.config=" + MONITORING


def tearDownModule():
    shutil.rmtree(MONITORING_DIR, True)

CONFIG = """
budgets:
  - {scope: global, period: day, usd: 1}
  - {scope: 'feature:chat', period: month, usd: 0.05, warn_at: 0.5}
  - {scope: 'route:/api/chat', period: week, usd: 0.02}
"""


def pico(inp, out):
    """pUSD of a haiku-4-5 request: $1 and $5 per million tokens."""
    return inp * 1_000_000 + out * 5_000_000


def event(inp, out, **labels):
    return {"model": "claude-haiku-4-5", "usage": {"input_tokens": inp, "output_tokens": out}, "labels": labels}


def away_from_midnight(margin=45):
    """These tests read the real clock: never start within `margin` seconds of a
    UTC day boundary (the unit tests cross boundaries with an injected clock)."""
    left = 86400 - time.time() % 86400
    if left < margin:
        time.sleep(left + 1)


class LedgerRestartTest(unittest.TestCase):
    def setUp(self):
        away_from_midnight()
        self.dir = tempfile.mkdtemp(prefix="llm-budgets-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def exporter(self, ports_from=None):
        e = Exporter(BINARY, PRICES, CONFIG, [MONITORING_FLAG, "--storage.path=" + self.dir])
        if ports_from is not None:
            e.web_port, e.ingest_port = ports_from.web_port, ports_from.ingest_port
        self.addCleanup(e.close)
        return e.start()

    def test_restart_keeps_every_figure_exact(self):
        a = self.exporter()
        sent = [(1247, 311, {"feature": "chat", "route": "/api/chat"}), (20000, 1000, {"feature": "chat"}),
                (3333, 7, {"feature": "search"}), (1, 1, {})]
        status, _ = a.post(json.dumps([event(i, o, **l) for i, o, l in sent]))
        self.assertEqual(status, 202)
        want = {
            "global": sum(pico(i, o) for i, o, _ in sent),
            "feature:chat": sum(pico(i, o) for i, o, l in sent if l.get("feature") == "chat"),
            "route:/api/chat": sum(pico(i, o) for i, o, l in sent if l.get("route") == "/api/chat"),
        }
        before = a.scrape()
        for scope, p in want.items():
            for period in ("day", "week", "month"):
                got = value(before, "llm_spend_usd", scope=scope, period=period)
                self.assertIsNotNone(got, (scope, period))
                self.assertAlmostEqual(got, p / 1e12, places=15, msg=(scope, period))
        self.assertEqual(value(before, "llm_budget_usd", scope="route:/api/chat", period="week"), 0.02)
        self.assertEqual(a.stop(), 0, a.read_log()[-2000:])

        b = self.exporter(ports_from=a)
        after = b.scrape()
        for scope in want:
            for period in ("day", "week", "month"):
                self.assertEqual(value(after, "llm_spend_usd", scope=scope, period=period),
                                 value(before, "llm_spend_usd", scope=scope, period=period), (scope, period))
        # And it keeps counting from there.
        b.post(json.dumps(event(500, 50, feature="chat")))
        later = b.scrape()
        self.assertAlmostEqual(value(later, "llm_spend_usd", scope="feature:chat", period="month"),
                               (want["feature:chat"] + pico(500, 50)) / 1e12, places=15)


def utc(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def next_boundaries(now):
    """resets_at per period, computed with Python's calendar."""
    d = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).date()
    day = d + datetime.timedelta(days=1)
    week = d + datetime.timedelta(days=7 - d.weekday())
    month = datetime.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    fmt = "%Y-%m-%dT00:00:00Z"
    return {"day": day.strftime(fmt), "week": week.strftime(fmt), "month": month.strftime(fmt)}


class BudgetsEndpointTest(unittest.TestCase):
    TOKEN = "budget-test-token"

    def setUp(self):
        away_from_midnight()
        self.tmp = tempfile.mkdtemp(prefix="llm-budgets-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        token = os.path.join(self.tmp, "token")
        with open(token, "w") as f:
            f.write(self.TOKEN + "\n")
        self.e = Exporter(BINARY, PRICES, CONFIG, [MONITORING_FLAG, "--web.ingest-token-file=" + token])
        self.addCleanup(self.e.close)
        self.e.start()
        self.auth = {"Authorization": "Bearer " + self.TOKEN}

    def get(self, path, headers=None):
        h = dict(self.auth)
        h.update(headers or {})
        req = urllib.request.Request(self.e.ingest + path, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def test_fields_states_etag_auth_and_unknown_scope(self):
        sent = [(10000, 1000, {"feature": "chat", "route": "/api/chat"}), (2000, 0, {"feature": "other"})]
        status, _ = self.e.post(json.dumps([event(i, o, **l) for i, o, l in sent]), self.auth)
        self.assertEqual(status, 202)
        chat = sum(pico(i, o) for i, o, l in sent if l.get("feature") == "chat") / 1e12
        total = sum(pico(i, o) for i, o, _ in sent) / 1e12

        # Without the token: 401, like POST /v1/events.
        self.assertEqual(http("GET", self.e.ingest + "/v1/budgets")[0], 401)

        status, headers, body = self.get("/v1/budgets/feature:chat")
        self.assertEqual(status, 200, body)
        j = json.loads(body)
        now = utc(j["as_of"])
        self.assertLess(abs(now - time.time()), 5)
        self.assertEqual(j["source"], "local")
        m = j["periods"]["month"]
        self.assertEqual(m["budget_usd"], 0.05)
        self.assertAlmostEqual(m["spent_usd"], chat, places=15)
        self.assertAlmostEqual(m["remaining_usd"], 0.05 - chat, places=15)
        self.assertEqual(m["warn_at"], 0.5)
        self.assertEqual(m["block_at"], 1.0)
        self.assertEqual(m["state"], "ok")  # 0.015 of 0.05
        for period, resets in next_boundaries(now).items():
            self.assertEqual(j["periods"][period]["resets_at"], resets, period)
        # Fresh exporter: no yesterday, so the pace is today's spend per day.
        day_start = now - now % 86400
        pace = chat  # today + 0 x yesterday
        self.assertAlmostEqual(m["projected_usd"], chat + pace * (utc(m["resets_at"]) - now) / 86400, places=12)
        self.assertEqual(j["periods"]["day"]["period_start"],
                         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(day_start)))
        self.assertIsNone(j["periods"]["day"]["budget_usd"])

        status, _, body = self.get("/v1/budgets")
        g = [s for s in json.loads(body)["scopes"] if s["scope"] == "global"][0]
        self.assertAlmostEqual(g["periods"]["day"]["spent_usd"], total, places=15)
        self.assertEqual(g["periods"]["day"]["budget_usd"], 1)

        # ETag + 304, Cache-Control.
        self.assertTrue(headers["ETag"].startswith('W/"'))
        self.assertRegex(headers["Cache-Control"], r"max-age=[1-9]")
        status, _, body = self.get("/v1/budgets/feature:chat", {"If-None-Match": headers["ETag"]})
        self.assertEqual((status, body), (304, b""))

        # Warn at 50%, then exceeded: 0.02 more USD puts chat at 0.035, then 0.055.
        self.e.post(json.dumps(event(20000, 0, feature="chat")), self.auth)
        status, _, body = self.get("/v1/budgets/feature:chat", {"If-None-Match": headers["ETag"]})
        self.assertEqual(status, 200)  # the figures changed
        self.assertEqual(json.loads(body)["state"], "warn")
        self.e.post(json.dumps(event(0, 4000, feature="chat")), self.auth)
        j = json.loads(self.get("/v1/budgets/feature:chat")[2])
        self.assertEqual(j["state"], "exceeded")
        self.assertAlmostEqual(j["periods"]["month"]["remaining_usd"], 0.05 - (chat + 0.02 + 0.02), places=15)

        # Unknown scope: 404 naming the known ones; a scope with '/' in its value.
        status, _, body = self.get("/v1/budgets/feature:nope")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["scopes"], ["global", "feature:chat", "route:/api/chat"])
        status, _, body = self.get("/v1/budgets/route:%2Fapi%2Fchat")
        self.assertEqual(status, 200)
        self.assertAlmostEqual(json.loads(body)["periods"]["week"]["spent_usd"], pico(10000, 1000) / 1e12, places=15)

    def test_prices_resolve_like_the_exporter(self):
        status, _, body = self.get("/v1/prices/claude-haiku-4-5-20251001")
        self.assertEqual(status, 200, body)
        j = json.loads(body)
        self.assertEqual(j["price"]["model"], "claude-haiku-4-5")
        self.assertEqual(j["price"]["current"]["pusd_per_token"]["input"], 1_000_000)  # $1 per MTok
        self.assertEqual(self.get("/v1/prices/claude-unknown-9")[0], 404)
        self.assertEqual(http("GET", self.e.ingest + "/v1/prices")[0], 401)

    def test_polling_latency(self):
        """Not a pass/fail bound beyond 'fast': prints p50/p99 for docs/budgets.md."""
        self.e.post(json.dumps(event(100, 10, feature="chat")), self.auth)
        conn = http_client_module.HTTPConnection("127.0.0.1", self.e.ingest_port, timeout=10)
        times = []
        etag = None
        for i in range(2000):
            h = dict(self.auth)
            if etag and i % 2:
                h["If-None-Match"] = etag
            t0 = time.perf_counter()
            conn.request("GET", "/v1/budgets", headers=h)
            r = conn.getresponse()
            r.read()
            times.append(time.perf_counter() - t0)
            etag = r.getheader("ETag")
            self.assertIn(r.status, (200, 304))
        conn.close()
        times.sort()
        p50, p99 = times[len(times) // 2] * 1e3, times[int(len(times) * 0.99)] * 1e3
        print("GET /v1/budgets keep-alive, 2000 requests: p50 %.3f ms, p99 %.3f ms" % (p50, p99), file=sys.stderr)
        self.assertLess(p50, 50)


class ReplicasThroughPrometheusTest(unittest.TestCase):
    """Two replicas scraped by a real Prometheus: with --budgets.prometheus-url,
    /v1/budgets reports their sum; with Prometheus stopped it falls back to the
    local ledger and says so."""

    def test_sum_then_fallback(self):
        away_from_midnight(90)
        from prometheus_server import Prometheus, scrape_job  # noqa: E402
        prom = Prometheus()
        self.addCleanup(prom.close)
        a = Exporter(BINARY, PRICES, CONFIG, [MONITORING_FLAG, "--budgets.prometheus-url=" + prom.url])
        b = Exporter(BINARY, PRICES, CONFIG, [MONITORING_FLAG])
        for e in (a, b):
            self.addCleanup(e.close)
            e.start()
        prom.start({"scrape_configs": [scrape_job("llm-cost-exporter", "127.0.0.1:%d" % a.web_port),
                                        scrape_job("llm-cost-exporter-b", "127.0.0.1:%d" % b.web_port)]},
                   scrape_interval="1s", evaluation_interval="1s")
        on_a, on_b = pico(1247, 311), pico(20000, 1000)
        self.assertEqual(a.post(json.dumps(event(1247, 311, feature="chat")))[0], 202)
        self.assertEqual(b.post(json.dumps(event(20000, 1000, feature="chat")))[0], 202)
        want = (on_a + on_b) / 1e12
        deadline = time.time() + 30
        got = None
        while time.time() < deadline:
            r = prom.query('sum by (scope, period) (llm_spend_usd{scope="feature:chat", period="month"})')
            if r and abs(float(r[0]["value"][1]) - want) < 1e-15:
                break
            time.sleep(0.5)
        deadline = time.time() + 10
        while time.time() < deadline:  # the exporter caches the query for 2 s
            status, body = http("GET", a.ingest + "/v1/budgets/feature:chat")
            got = json.loads(body)
            if got["source"] == "prometheus" and abs(got["periods"]["month"]["spent_usd"] - want) < 1e-15:
                break
            time.sleep(0.5)
        self.assertEqual(got["source"], "prometheus", got)
        self.assertAlmostEqual(got["periods"]["month"]["spent_usd"], want, places=15)
        self.assertAlmostEqual(got["periods"]["month"]["remaining_usd"], 0.05 - want, places=15)
        # Replica b, without the flag, answers from its own ledger.
        status, body = http("GET", b.ingest + "/v1/budgets/feature:chat")
        self.assertEqual(json.loads(body)["source"], "local")
        self.assertAlmostEqual(json.loads(body)["periods"]["month"]["spent_usd"], on_b / 1e12, places=15)

        prom.stop()
        time.sleep(2.5)  # past the 2 s query cache
        status, body = http("GET", a.ingest + "/v1/budgets/feature:chat")
        got = json.loads(body)
        self.assertEqual(status, 200)
        self.assertEqual(got["source"], "local_fallback", got)
        self.assertTrue(got["source_error"])
        self.assertAlmostEqual(got["periods"]["month"]["spent_usd"], on_a / 1e12, places=15)


if __name__ == "__main__":
    unittest.main()
