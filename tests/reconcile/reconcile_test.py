"""Issue 16 through the real binary against tests/reconcile/fake_admin_api.py:
the billing poller (429 Retry-After, 500, pagination, a revised day, an unknown
model, the legacy cost_report when the beta is refused, a failing poll keeping the
last figures), the multi-replica drift read through --budgets.prometheus-url, the
Admin key (read from a file, never logged, sent only to --reconcile.api-url), and
the backfill / reconcile commands (the backfill accepted by the real
`promtool tsdb create-blocks-from openmetrics` and queried from a real Prometheus).

Every expected figure is computed here: instrumented from the events sent and the
published per-million rates (claude-haiku-4-5 $1 in / $5 out, claude-sonnet-4-6
$3 / $15), billed from the fake's cents, drift = instrumented / billed - 1."""
import calendar
import datetime
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from exporter_process import Exporter, value  # noqa: E402
from fake_admin_api import FakeAdminApi, HOUR, DAY  # noqa: E402
from prometheus_server import Prometheus  # noqa: E402

SOURCE_DIR = os.environ["SOURCE_DIR"]
BINARY = os.environ["EXPORTER_BINARY"]
PRICES = os.path.join(SOURCE_DIR, "exporter", "pricing", "prices.yml")
KEY = "sk-ant-admin01-test-" + "k" * 40

NOW = int(time.time())
MIDNIGHT = NOW - NOW % DAY
# settle-after chosen so that the last settled day is the day before yesterday for
# the next 12 hours whatever the time of day (no flake at a midnight):
# a day D is settled when D + 1 day + settle_after <= now.
SETTLE = NOW - MIDNIGHT + 12 * HOUR
D = MIDNIGHT - 2 * DAY            # the last settled day
MONTH_START = calendar.timegm(datetime.datetime.fromtimestamp(D, datetime.timezone.utc).replace(day=1).timetuple())


def pico_haiku(inp, out):
    return inp * 1_000_000 + out * 5_000_000


def pico_sonnet(inp, out):
    return inp * 3_000_000 + out * 15_000_000


def event(model, inp, out, ts, rid, platform=None):
    e = {"model": model, "usage": {"input_tokens": inp, "output_tokens": out}, "ts": ts, "request_id": rid}
    if platform:
        e["platform"] = platform
    return e


def cents_to_pico(cents):
    return int(Decimal(cents) * Decimal(10) ** 10)


class FakePrometheus:
    """The query API the poller reads the sum across replicas from (and a trap:
    it records every header it receives, which must never carry the key)."""

    def __init__(self):
        self.answer = []
        self.seen = []
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                fake.seen.append((self.path, dict(self.headers.items())))
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": fake.answer}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def wait_for(fn, timeout=20, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class PollerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.key_file = os.path.join(self.tmp.name, "admin.key")
        with open(self.key_file, "w") as f:
            f.write(KEY + "\n")
        self.api = FakeAdminApi(KEY).start()
        self.prom = FakePrometheus()

    def tearDown(self):
        self.api.stop()
        self.prom.stop()
        self.tmp.cleanup()

    def test_poller(self):
        api = self.api
        # Billed: haiku on D in two hours, sonnet on D, a model the price table does
        # not know, and haiku the day before D when that is in the same month.
        api.set_cost(D + 10 * HOUR, "claude-haiku-4-5-20251001", "0.3")
        api.set_cost(D + 14 * HOUR, "claude-haiku-4-5-20251001", "0.318")
        api.set_cost(D + 9 * HOUR, "claude-sonnet-4-6", "0.7575")
        api.set_cost(D + 11 * HOUR, "claude-future-9", "1.23456789")
        api.set_cost(D + 1 * DAY + 3 * HOUR, "claude-haiku-4-5", "5")  # not settled yet: never counted
        before = D - DAY >= MONTH_START
        if before:
            api.set_cost(D - DAY + 8 * HOUR, "claude-haiku-4-5", "0.2")
        api.fail_next = ["429", "500"]  # the first request rate-limited (Retry-After 1), the retry a 500
        api.page_size = 2

        exporter = Exporter(BINARY, PRICES, extra_args=[
            "--reconcile.admin-key-file=" + self.key_file,
            "--reconcile.api-url=" + api.url,
            "--reconcile.interval=2s",
            "--reconcile.settle-after=%ds" % SETTLE,
            "--budgets.prometheus-url=" + self.prom.url,
            "--log.level=debug"])
        with exporter:
            events = [event("claude-haiku-4-5", 1000, 200, D + 10 * HOUR + i, "h%d" % i) for i in range(3)]
            events.append(event("claude-sonnet-4-6", 2000, 100, D + 9 * HOUR, "s1"))
            events.append(event("claude-haiku-4-5", 5000, 5000, D + 12 * HOUR, "b1", platform="bedrock"))
            events.append(event("claude-haiku-4-5", 7000, 0, D + DAY + 3 * HOUR, "late"))  # D+1: not settled
            if before:
                events.append(event("claude-haiku-4-5", 1000, 0, D - DAY + 8 * HOUR, "prev"))
            status, answer = exporter.post(json.dumps(events).encode())
            self.assertIn(status, (200, 202), answer)

            i_haiku = 3 * pico_haiku(1000, 200)
            i_sonnet = pico_sonnet(2000, 100)
            i_haiku_mtd = i_haiku + (pico_haiku(1000, 0) if before else 0)
            b_haiku = cents_to_pico("0.3") + cents_to_pico("0.318")
            b_sonnet = cents_to_pico("0.7575")
            b_future = cents_to_pico("1.23456789")
            b_haiku_mtd = b_haiku + (cents_to_pico("0.2") if before else 0)

            # Two replicas' worth, as Prometheus would sum them: this one and another
            # with the same haiku share and no sonnet.
            self.prom.answer = [
                {"metric": {"model": "claude-haiku-4-5", "period": "last_settled_day"}, "value": [NOW, repr(2 * i_haiku / 1e12)]},
                {"metric": {"model": "claude-sonnet-4-6", "period": "last_settled_day"}, "value": [NOW, repr(i_sonnet / 1e12)]},
                {"metric": {"model": "claude-haiku-4-5", "period": "month_to_date_settled"},
                 "value": [NOW, repr(2 * i_haiku_mtd / 1e12)]},
            ]

            def billed_seen(s):
                return value(s, "llm_billed_cost_usd", model="claude-haiku-4-5", period="last_settled_day") is not None
            s = wait_for(lambda: (lambda x: x if billed_seen(x) else None)(exporter.scrape()), what="first good poll")

            def v(name, model, period="last_settled_day", samples=None):
                return value(samples or s, name, model=model, period=period)
            self.assertAlmostEqual(v("llm_billed_cost_usd", "claude-haiku-4-5"), b_haiku / 1e12, places=15)
            self.assertAlmostEqual(v("llm_billed_cost_usd", "claude-sonnet-4-6"), b_sonnet / 1e12, places=15)
            self.assertAlmostEqual(v("llm_billed_cost_usd", "claude-future-9"), b_future / 1e12, places=15)
            self.assertAlmostEqual(v("llm_billed_cost_usd", "claude-haiku-4-5", "month_to_date_settled"),
                                   b_haiku_mtd / 1e12, places=15)
            # Instrumented: this replica's first-party share (Bedrock and D+1 not in it).
            self.assertAlmostEqual(v("llm_instrumented_cost_usd", "claude-haiku-4-5"), i_haiku / 1e12, places=15)
            self.assertAlmostEqual(v("llm_instrumented_cost_usd", "claude-haiku-4-5", "month_to_date_settled"),
                                   i_haiku_mtd / 1e12, places=15)
            self.assertEqual(v("llm_instrumented_cost_usd", "claude-future-9"), 0)
            # Drift against the sum across replicas.
            self.assertAlmostEqual(v("llm_billed_drift_ratio", "claude-haiku-4-5"), 2 * i_haiku / b_haiku - 1, places=9)
            self.assertAlmostEqual(v("llm_billed_drift_ratio", "claude-sonnet-4-6"), i_sonnet / b_sonnet - 1, places=9)
            self.assertAlmostEqual(v("llm_billed_drift_ratio", "claude-future-9"), -1.0, places=12)
            self.assertAlmostEqual(v("llm_billed_drift_ratio", "claude-haiku-4-5", "month_to_date_settled"),
                                   2 * i_haiku_mtd / b_haiku_mtd - 1, places=9)
            self.assertEqual(value(s, "llm_billed_last_settled_timestamp_seconds"), D + DAY)
            self.assertGreaterEqual(value(s, "llm_reconcile_polls_total", result="success"), 1)
            # The retries happened: the first page was asked three times.
            paths = api.paths()
            self.assertGreaterEqual(paths.count("/v1/organizations/analytics/cost"), 4)  # 3 tries + page 2

            # A revised figure for a day already seen replaces the old one.
            api.set_cost(D + 14 * HOUR, "claude-haiku-4-5-20251001", "0.418")
            b_haiku2 = cents_to_pico("0.3") + cents_to_pico("0.418")
            s = wait_for(lambda: (lambda x: x if abs((v("llm_billed_cost_usd", "claude-haiku-4-5", samples=x) or 0)
                                                     - b_haiku2 / 1e12) < 1e-15 else None)(exporter.scrape()),
                         what="the revised figure")

            # A failing poll is counted, the last good figures stay.
            api.fail_next = ["401"]
            s = wait_for(lambda: (lambda x: x if (value(x, "llm_reconcile_polls_total", result="unauthorized") or 0) >= 1
                                  else None)(exporter.scrape()), what="the unauthorized poll")
            self.assertAlmostEqual(v("llm_billed_cost_usd", "claude-haiku-4-5"), b_haiku2 / 1e12, places=15)

            # The beta refused: the legacy cost_report gives the same exact figures.
            api.refuse_beta = True
            n = api.paths().count("/v1/organizations/cost_report")
            wait_for(lambda: api.paths().count("/v1/organizations/cost_report") > n + 2, what="legacy cost_report reads")
            time.sleep(0.5)
            s = exporter.scrape()
            self.assertAlmostEqual(v("llm_billed_cost_usd", "claude-haiku-4-5"), b_haiku2 / 1e12, places=15)
            self.assertAlmostEqual(v("llm_billed_cost_usd", "claude-future-9"), b_future / 1e12, places=15)

            self.assertEqual(api.violations, [])
            # The series follow the Prometheus conventions.
            text = exporter.scrape_text()
            c = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
            self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
            self.assertEqual([l for l in (c.stdout + c.stderr).decode().splitlines()
                              if "llm_billed" in l or "llm_reconcile" in l or "llm_instrumented" in l], [])
            log = exporter.read_log()
        # The key: never logged, sent to the configured API only.
        self.assertNotIn(KEY, log)
        self.assertNotIn(KEY[10:30], log)
        self.assertIn("billing poll succeeded", log)
        self.assertTrue(self.prom.seen, "the sum across replicas was never read")
        for path, headers in self.prom.seen:
            self.assertNotIn(KEY, path)
            self.assertFalse(any(KEY in v for v in headers.values()), "the key went to the Prometheus URL")
        with api.lock:
            self.assertTrue(all(h.get("x-api-key") == KEY for _, _, h in api.requests))

    def test_replica_that_does_not_poll(self):
        # --reconcile.export-instrumented: its share for the poller's sum, no poll
        # series (so LLMReconcileStale stays quiet on it), no request to any API.
        exporter = Exporter(BINARY, PRICES, extra_args=["--reconcile.export-instrumented",
                                                        "--reconcile.settle-after=%ds" % SETTLE])
        with exporter:
            status, _ = exporter.post(json.dumps([event("claude-haiku-4-5", 4000, 10, D + 5 * HOUR, "r1")]).encode())
            self.assertIn(status, (200, 202))
            s = wait_for(lambda: (lambda x: x if value(x, "llm_instrumented_cost_usd", model="claude-haiku-4-5",
                                                        period="last_settled_day") else None)(exporter.scrape()),
                         what="the instrumented share")
            self.assertAlmostEqual(value(s, "llm_instrumented_cost_usd", model="claude-haiku-4-5", period="last_settled_day"),
                                   pico_haiku(4000, 10) / 1e12, places=15)
            self.assertFalse(any(n.startswith(("llm_reconcile", "llm_billed")) for n, _ in s))
        self.assertEqual(self.api.paths(), [])

    def test_https_with_an_untrusted_certificate_gets_no_key(self):
        # A server whose certificate the system does not trust never sees a request:
        # the TLS handshake fails first (certificate verification is on), the poll
        # counts transport_error.
        cert, key = os.path.join(self.tmp.name, "cert.pem"), os.path.join(self.tmp.name, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=30)
        tls = FakeAdminApi(KEY, tls_cert=(cert, key)).start()
        try:
            exporter = Exporter(BINARY, PRICES, extra_args=[
                "--reconcile.admin-key-file=" + self.key_file, "--reconcile.api-url=" + tls.url,
                "--reconcile.interval=1h", "--reconcile.settle-after=%ds" % SETTLE])
            with exporter:
                s = wait_for(lambda: (lambda x: x if (value(x, "llm_reconcile_polls_total", result="transport_error") or 0) >= 1
                                      else None)(exporter.scrape()), timeout=40, what="the failed TLS poll")
                self.assertEqual(value(s, "llm_reconcile_polls_total", result="success"), 0)
                log = exporter.read_log()
            self.assertEqual(tls.requests, [])
            self.assertNotIn(KEY, log)
        finally:
            tls.stop()

    def test_key_file_errors_name_the_flag_not_the_key(self):
        missing = os.path.join(self.tmp.name, "nope")
        r = subprocess.run([BINARY, "--reconcile.admin-key-file=" + missing, "--web.listen-address=127.0.0.1:0",
                            "--ingest.listen-address=", "--udp.listen-address=", "--otlp.listen-address="],
                           capture_output=True, text=True, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--reconcile.admin-key-file", r.stderr + r.stdout)
        r = subprocess.run([BINARY, "--reconcile.admin-key-file=" + self.key_file, "--reconcile.api-url=http://x/path",
                            "--web.listen-address=127.0.0.1:0", "--ingest.listen-address=", "--udp.listen-address=",
                            "--otlp.listen-address="], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--reconcile.api-url", r.stderr + r.stdout)
        self.assertNotIn(KEY, r.stderr + r.stdout)


class CommandsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.key_file = os.path.join(self.tmp.name, "admin.key")
        with open(self.key_file, "w") as f:
            f.write(KEY)
        self.api = FakeAdminApi(KEY).start()
        self.api.page_size = 3
        self.api.set_cost(D + 10 * HOUR, "claude-haiku-4-5-20251001", "12.5")
        self.api.set_cost(D + 11 * HOUR, "claude-haiku-4-5-20251001", "0.00001")
        self.api.set_cost(D + 11 * HOUR, "claude-sonnet-4-6", "250")
        self.api.set_tokens(D + 10 * HOUR, "claude-haiku-4-5-20251001", input=1200, output=340, cache_read=5000,
                            cache_write_5m=70, cache_write_1h=9)

    def tearDown(self):
        self.api.stop()
        self.tmp.cleanup()

    def run_cmd(self, *args):
        day = datetime.datetime.fromtimestamp(D, datetime.timezone.utc).strftime("%Y-%m-%d")
        return subprocess.run([BINARY, *args, "--from", day, "--to", day, "--reconcile.admin-key-file=" + self.key_file,
                               "--reconcile.api-url=" + self.api.url, "--pricing.file=" + PRICES],
                              capture_output=True, text=True, timeout=30)

    def test_reconcile_table(self):
        r = self.run_cmd("reconcile")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = {tuple(l.split()[:3]) for l in r.stdout.splitlines()[1:]}
        day = datetime.datetime.fromtimestamp(D, datetime.timezone.utc).strftime("%Y-%m-%d")
        self.assertIn((day, "claude-haiku-4-5", "0.1250001"), lines)  # 12.50001 cents
        self.assertIn((day, "claude-sonnet-4-6", "2.5"), lines)
        self.assertNotIn(KEY, r.stdout + r.stderr)

    def test_reconcile_table_with_metrics_url(self):
        prom = FakePrometheus()
        try:
            # What Prometheus answers for the day's increase of first-party cost:
            # haiku counted 0.12875 USD against 0.1250001 billed.
            prom.answer = [{"metric": {"model": "claude-haiku-4-5"}, "value": [NOW, "0.12875"]}]
            r = self.run_cmd("reconcile", "--metrics-url=" + prom.url)
            self.assertEqual(r.returncode, 0, r.stderr)
            day = datetime.datetime.fromtimestamp(D, datetime.timezone.utc).strftime("%Y-%m-%d")
            rows = {tuple(l.split()[:2]): l.split()[2:] for l in r.stdout.splitlines()[1:]}
            billed, inst, drift = rows[(day, "claude-haiku-4-5")]
            self.assertEqual((billed, inst), ("0.1250001", "0.12875"))
            self.assertEqual(drift, "%+.2f%%" % ((0.12875 / 0.1250001 - 1) * 100))
            self.assertEqual(rows[(day, "claude-sonnet-4-6")][1:], ["0", "-100.00%"])
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(prom.seen[0][0]).query)["query"][0]
            self.assertIn('llm_cost_usd_total{platform="anthropic"}[1d] @ %d' % (D + DAY), query)
            for path, headers in prom.seen:
                self.assertFalse(any(KEY in v for v in headers.values()) or KEY in path)
        finally:
            prom.stop()

    def test_backfill_into_prometheus(self):
        t0 = time.time()
        r = self.run_cmd("backfill")
        self.assertEqual(r.returncode, 0, r.stderr)
        om = os.path.join(self.tmp.name, "billed.om")
        with open(om, "w") as f:
            f.write(r.stdout)
        prom = Prometheus(workdir=os.path.join(self.tmp.name, "prom"),
                          flags=["--storage.tsdb.retention.time=10y"])
        data = os.path.join(prom.dir, "data")
        c = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, data],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        try:
            prom.start({"global": {"scrape_interval": "1h"}, "scrape_configs": []})
            at = D + 10 * HOUR + 60
            self.assertAlmostEqual(prom.scalar('llm_billed_bucket_cost_usd{model="claude-haiku-4-5"}', at), 0.125, places=12)
            self.assertAlmostEqual(prom.scalar('llm_billed_bucket_cost_usd{model="claude-haiku-4-5"}', at + HOUR),
                                   0.0000001, places=15)
            self.assertAlmostEqual(prom.scalar('llm_billed_bucket_cost_usd{model="claude-sonnet-4-6"}', at + HOUR), 2.5)
            for token_type, n in (("input", 1200), ("output", 340), ("cache_read", 5000), ("cache_write_5m", 70),
                                  ("cache_write_1h", 9)):
                self.assertEqual(prom.scalar('llm_billed_bucket_tokens{model="claude-haiku-4-5",token_type="%s"}'
                                             % token_type, at), n)
        finally:
            prom.stop()
        print("backfill + promtool + Prometheus query: %.1fs" % (time.time() - t0))
        self.assertEqual(self.api.violations, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
