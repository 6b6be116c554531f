"""Integration test: slow, idle and hostile HTTP clients against the real binary
(issue 13 items 2, 3 and the HTTP parts of 9; issue 11 items 2 and 6).

Every test is a bounded loopback test: a fixed number of sockets, bounded loops,
and time and memory bounds asserted as generous ceilings (the machine is shared),
never as exact figures. docs/reliability.md ("Slow clients", "Request size")
gives the figures measured before and after.
"""
import base64
import gzip
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from exporter_process import Exporter, total, value  # noqa: E402
from http_client import http  # noqa: E402

SOURCE_DIR = os.environ["SOURCE_DIR"]
BINARY = os.environ["EXPORTER_BINARY"]
PRICES = os.path.join(SOURCE_DIR, "exporter", "pricing", "prices.yml")
EVENT = json.dumps({"model": "claude-haiku-4-5", "usage": {"input_tokens": 100, "output_tokens": 10}})
MiB = 2**20


def rss_bytes(pid, field="VmRSS"):
    """Resident memory now (VmRSS), or its peak so far (VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes(pid):
    return rss_bytes(pid, "VmHWM")


def raw(port, data, timeout=10, read=True):
    """Sends bytes on a fresh connection; returns everything read until close or timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass  # refused mid-send: the answer is still readable
        out = b""
        deadline = time.time() + timeout
        while read and time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and (b"Connection: close" not in out or out.endswith(b"\n")):
                head, _, body = out.partition(b"\r\n\r\n")
                length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
        return out


def status_of(reply):
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.") else None


def timed(method, url, body=None, headers=None, timeout=5):
    start = time.monotonic()
    try:
        status, _ = http(method, url, body, headers, timeout=timeout)
    except OSError as e:
        status = repr(e)
    return status, time.monotonic() - start


class Holder:
    """Keeps `idle` connections open doing nothing and `slow` ones trickling one
    header byte per second, reconnecting any the server closes (as an attacker
    would), until stop(). Bounded: a fixed number of sockets, one thread."""

    def __init__(self, port, idle, slow, body=False):
        self.port, self.idle, self.slow, self.body = port, idle, slow, body
        self.socks = []
        self.reconnects = 0
        self.stopping = threading.Event()
        for i in range(idle + slow):
            self.socks.append(self.open(i))
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def open(self, i):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setblocking(False)
        if i >= self.idle:
            if self.body:
                s.send(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n[")
            else:
                s.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        return s

    def run(self):
        while not self.stopping.wait(1.0):
            for i, s in enumerate(self.socks):
                try:
                    if i >= self.idle:
                        s.send(b"0" if self.body else b"a")
                    elif s.recv(1, socket.MSG_PEEK) == b"":
                        raise OSError("closed")
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    try:
                        self.socks[i] = self.open(i)
                        self.reconnects += 1
                    except OSError:
                        pass

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=10)
        for s in self.socks:
            s.close()


class SlowClientTest(unittest.TestCase):
    """Issue 13 item 2: slow or idle clients used to hold httplib's four workers."""

    def start(self, *extra):
        e = Exporter(BINARY, PRICES, extra_args=["--log.level=error"] + list(extra)).start()
        self.addCleanup(e.close)
        return e

    def test_1000_slow_and_idle_connections_do_not_delay_metrics_or_health(self):
        e = self.start()
        holder = Holder(e.web_port, idle=500, slow=500)
        self.addCleanup(holder.stop)
        latencies = []
        for _ in range(10):  # bounded: 10 rounds while the 1,000 are held
            for path in ("/metrics", "/-/healthy"):
                latencies.append((path,) + timed("GET", e.web + path))
            time.sleep(0.2)
        held = sum(1 for s in holder.socks if s.fileno() >= 0)
        self.assertEqual(held, 1000)
        for path, status, secs in latencies:
            self.assertEqual(status, 200, path)
            self.assertLess(secs, 1.0, "%s took %.3fs with 1,000 slow/idle connections" % (path, secs))
        self.assertLess(peak_rss_bytes(e.proc.pid), 200 * MiB)

    def test_1000_slow_ingest_uploads_leave_fast_clients_202_or_429(self):
        e = self.start()
        holder = Holder(e.ingest_port, idle=500, slow=500, body=True)
        self.addCleanup(holder.stop)
        results = []
        for _ in range(20):
            results.append(timed("POST", e.ingest + "/v1/events", EVENT, timeout=5))
        for status, secs in results:
            self.assertIn(status, (202, 429), "a fast client got %r after %.2fs" % (status, secs))
            self.assertLess(secs, 1.0)
        self.assertEqual(timed("GET", e.web + "/-/healthy")[0], 200)

    def test_idle_sockets_in_the_tls_handshake_do_not_delay_scrapes(self):
        # Each used to hold a worker for the 5 s handshake timeout.
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl not installed")
        d = tempfile.TemporaryDirectory(prefix="llm-http-tls-")
        self.addCleanup(d.cleanup)
        cert, key = os.path.join(d.name, "c.pem"), os.path.join(d.name, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-keyout", key, "-out", cert], capture_output=True, check=True, timeout=60)
        config = os.path.join(d.name, "web.yml")
        with open(config, "w") as f:
            f.write("tls_server_config:\n  cert_file: %s\n  key_file: %s\n" % (cert, key))
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        e = Exporter(BINARY, PRICES, extra_args=["--log.level=error", "--web.config.file=" + config])
        self.addCleanup(e.close)
        e.start(ready_url="https://127.0.0.1:%d/-/ready" % e.web_port, context=ctx, request_timeout=2)
        holder = Holder(e.web_port, idle=500, slow=0)
        self.addCleanup(holder.stop)
        url = "https://127.0.0.1:%d" % e.web_port
        for _ in range(10):
            for path in ("/metrics", "/-/healthy"):
                start = time.monotonic()
                status, _ = http("GET", url + path, context=ctx, timeout=5)
                secs = time.monotonic() - start
                self.assertEqual(status, 200, path)
                self.assertLess(secs, 1.0, "%s over TLS took %.3fs with 500 idle sockets" % (path, secs))

    def test_a_request_that_never_completes_is_cut_at_its_deadline(self):
        e = self.start()
        with socket.create_connection(("127.0.0.1", e.web_port), timeout=30) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            start = time.monotonic()
            reply = b""
            for _ in range(40):  # one header byte per 0.5 s; bounded at 20 s
                try:
                    s.sendall(b"X")
                except OSError:
                    break
                s.settimeout(0.5)
                try:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
                except socket.timeout:
                    pass
                except OSError:  # reset: the server closed while we were still sending
                    break
            took = time.monotonic() - start
        self.assertLess(took, 15.0, "a trickling request must be cut within the request deadline (10 s)")
        self.assertIn(status_of(reply), (408, None))


class RequestSizeTest(unittest.TestCase):
    """Issue 13 item 3: headers, bodies and inflation were unbounded."""

    def start(self, *extra):
        e = Exporter(BINARY, PRICES, extra_args=["--log.level=error"] + list(extra)).start()
        self.addCleanup(e.close)
        return e

    def test_header_flood_is_refused_early_and_memory_stays_flat(self):
        e = self.start()
        before = peak_rss_bytes(e.proc.pid)
        sent = 0
        with socket.create_connection(("127.0.0.1", e.web_port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            line = b"X-Flood: " + b"a" * 1000 + b"\r\n"
            try:
                while sent < 32 * MiB:  # bounded; the server should stop us long before
                    s.sendall(line)
                    sent += len(line)
            except OSError:
                pass
            reply = b""
            try:
                reply = s.recv(4096)
            except OSError:
                pass
        self.assertLess(sent, 8 * MiB, "the server kept reading a header block of %d bytes" % sent)
        self.assertIn(status_of(reply), (431, None))
        self.assertEqual(status_of(raw(e.web_port, b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 100 + b"\r\n")), 431)
        self.assertLess(peak_rss_bytes(e.proc.pid) - before, 20 * MiB)
        self.assertEqual(http("GET", e.web + "/-/healthy")[0], 200)

    def test_routes_without_a_body_refuse_one_before_reading_it(self):
        e = self.start("--web.enable-lifecycle")
        for port, request in ((e.web_port, b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n"),
                              (e.web_port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"),
                              (e.ingest_port, b"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n")):
            reply = raw(port, request)
            self.assertEqual(status_of(reply), 413, (request[:40], reply[:200]))

    def test_gzip_bombs_are_not_inflated_outside_events_and_capped_there(self):
        e = self.start("--web.enable-lifecycle")
        bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
        body = bomb.compress(b"\0" * (256 * MiB)) + bomb.flush()  # 256 MiB of zeros in ~250 KiB
        self.assertLess(len(body), 1 * MiB)
        before = peak_rss_bytes(e.proc.pid)
        for _ in range(3):
            status, _ = http("POST", e.web + "/-/reload", body, {"Content-Encoding": "gzip"}, timeout=30)
            self.assertIn(status, (413, 415))
        status, data = http("POST", e.ingest + "/v1/events", body,
                            {"Content-Encoding": "gzip", "Content-Type": "application/json"}, timeout=30)
        self.assertEqual(status, 413)
        self.assertEqual(json.loads(data)["errors"][0]["reason"], "too_large")
        self.assertLess(peak_rss_bytes(e.proc.pid) - before, 64 * MiB, "a gzip bomb was inflated")
        # A real gzip body on the events route still counts.
        status, data = http("POST", e.ingest + "/v1/events", gzip.compress(EVENT.encode()),
                            {"Content-Encoding": "gzip", "Content-Type": "application/json"})
        self.assertEqual(status, 202, data)

    def test_a_large_body_does_not_pin_memory_afterwards(self):
        e = self.start()
        body = "[" + ",".join(["0"] * (2 * MiB - 1)) + "]"  # 4 MiB of [0,0,...]: the --ingest.max-body-bytes default
        self.assertLessEqual(len(body), 4 * MiB)
        for _ in range(4):  # so that every worker has had one
            status, _ = http("POST", e.ingest + "/v1/events", body, timeout=60)
            self.assertEqual(status, 400)  # no element is an object
        time.sleep(0.5)
        self.assertLess(rss_bytes(e.proc.pid), 100 * MiB)  # measured 12 MiB after; 916 MiB before

    def test_parsing_a_large_body_of_tiny_values_has_a_bounded_peak(self):
        """4 MiB of [0,0,...] peaked at 328 MB while being parsed (48-byte JSON nodes plus an
        88-byte item per element). Now: at most 2^20 values per body (24-byte nodes, 8-byte
        items); more is refused whole as too_large, counted by reason; a body just under the
        budget is read element by element (each refused as not an object)."""
        e = self.start()
        before = peak_rss_bytes(e.proc.pid)
        body = "[" + ",".join(["0"] * (2 * MiB - 1)) + "]"  # 2M values: over the budget
        status, data = http("POST", e.ingest + "/v1/events", body, timeout=60)
        self.assertEqual(status, 400)
        errors = json.loads(data)["errors"]
        self.assertEqual(len(errors), 1)
        self.assertEqual((errors[0]["reason"], errors[0]["field"]), ("too_large", ""))
        self.assertIn("1048576 JSON values", errors[0]["message"])
        under = 2**20 - 2  # with the array itself: 2^20 - 1 values
        body = "[" + ",".join(["0"] * under) + "]"
        status, data = http("POST", e.ingest + "/v1/events", body, timeout=60)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(data)["errors"][0]["reason"], "not_object")
        grown = peak_rss_bytes(e.proc.pid) - before
        self.assertLess(grown, 48 * MiB, "peak grew by %.0f MiB" % (grown / MiB))
        samples = e.scrape()
        self.assertEqual(total(samples, "llm_exporter_events_rejected_total", reason="too_large"), 1)
        self.assertEqual(total(samples, "llm_exporter_events_rejected_total", reason="not_object"), under)

    def test_multipart_body_is_bad_input_not_a_server_error(self):
        e = self.start()
        body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"e.bin\"\r\n\r\n\x00\x01binary\r\n--b--\r\n"
        status, data = http("POST", e.ingest + "/v1/events", body, {"Content-Type": "multipart/form-data; boundary=b"})
        self.assertEqual(status, 400, data)
        self.assertEqual(json.loads(data)["errors"][0]["reason"], "malformed_json")


class DocumentedCommandsTest(unittest.TestCase):
    """Issue 11 items 2 and 6, and the HTTP parts of issue 13 item 9."""

    def test_plain_curl_post_reloads(self):
        e = Exporter(BINARY, PRICES, extra_args=["--web.enable-lifecycle"]).start()
        self.addCleanup(e.close)
        # Exactly what `curl -X POST http://127.0.0.1:10429/-/reload` sends: no body, no Content-Length.
        reply = raw(e.web_port, b"POST /-/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")
        self.assertEqual(status_of(reply), 200, reply)
        self.assertIn(b"Price table reloaded.", reply)
        if shutil.which("curl"):
            r = subprocess.run(["curl", "-sS", "-X", "POST", "-o", "/dev/null", "-w", "%{http_code}", e.web + "/-/reload"],
                               capture_output=True, timeout=10)
            self.assertEqual(r.stdout, b"200")

    def test_second_instance_on_the_same_address_refuses_to_start(self):
        first = Exporter(BINARY, PRICES).start()
        self.addCleanup(first.close)
        # Same web and ingest (TCP) addresses; UDP off, since a UDP bind always refused a second one.
        second = subprocess.run(first.args() + ["--udp.listen-address="], capture_output=True, timeout=10)
        self.assertNotEqual(second.returncode, 0, "a second exporter started on the first one's ports")
        self.assertIn(b"cannot listen on 127.0.0.1:%d" % first.web_port, second.stderr)
        self.assertIn(b"Address already in use", second.stderr)
        self.assertEqual(http("GET", first.web + "/-/healthy")[0], 200)

    def test_telemetry_path_is_matched_literally(self):
        e = Exporter(BINARY, PRICES, extra_args=["--web.telemetry-path=/metr.cs"])
        self.addCleanup(e.close)
        e.start(ready_url=None)
        self.assertEqual(http("GET", e.web + "/metr.cs")[0], 200)
        self.assertEqual(http("GET", e.web + "/metrics")[0], 404)  # '.' is not a wildcard

    def test_min_version_tls10_refuses_to_start_with_the_reason(self):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl not installed")
        d = tempfile.TemporaryDirectory(prefix="llm-http-tls-")
        self.addCleanup(d.cleanup)
        cert, key = os.path.join(d.name, "c.pem"), os.path.join(d.name, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-keyout", key, "-out", cert], capture_output=True, check=True, timeout=60)
        config = os.path.join(d.name, "web.yml")
        with open(config, "w") as f:
            f.write("tls_server_config:\n  cert_file: %s\n  key_file: %s\n  min_version: TLS10\n" % (cert, key))
        e = Exporter(BINARY, PRICES)
        self.addCleanup(e.close)
        r = subprocess.run(e.args() + ["--web.config.file=" + config], capture_output=True, timeout=10)
        self.assertNotEqual(r.returncode, 0, "a TLS10 listener no TLS 1.0 client can use must not start")
        self.assertIn(b"min_version TLS10", r.stderr)

    def test_wrong_password_flood_leaves_a_remembered_login_fast(self):
        if not shutil.which("htpasswd"):
            raise unittest.SkipTest("htpasswd not installed")
        out = subprocess.run(["htpasswd", "-nbB", "-C", "10", "prom", "right-pw"], capture_output=True, check=True)
        d = tempfile.TemporaryDirectory(prefix="llm-http-auth-")
        self.addCleanup(d.cleanup)
        config = os.path.join(d.name, "web.yml")
        with open(config, "w") as f:
            f.write("basic_auth_users:\n  prom: '%s'\n" % out.stdout.decode().strip().split(":", 1)[1])
        good = {"Authorization": "Basic " + base64.b64encode(b"prom:right-pw").decode()}
        e = Exporter(BINARY, PRICES, extra_args=["--web.config.file=" + config, "--log.level=error"])
        self.addCleanup(e.close)
        e.start(headers=good)  # the readiness probe logs in once: remembered from now on
        stop = threading.Event()

        def attacker(i):
            bad = {"Authorization": "Basic " + base64.b64encode(b"prom:wrong-%d" % i).decode()}
            for _ in range(50):  # bounded
                if stop.is_set():
                    return
                try:
                    http("GET", e.web + "/metrics", headers=bad, timeout=10)
                except OSError:
                    pass

        threads = [threading.Thread(target=attacker, args=(i,), daemon=True) for i in range(64)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        latencies = [timed("GET", e.web + "/metrics", headers=good) for _ in range(10)]
        stop.set()
        for t in threads:
            t.join(timeout=30)
        for status, secs in latencies:
            self.assertEqual(status, 200)
            self.assertLess(secs, 1.0, "a remembered login took %.2fs under a wrong-password flood" % secs)


if __name__ == "__main__":
    unittest.main(verbosity=2)
