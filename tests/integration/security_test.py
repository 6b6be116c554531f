"""Integration test: ingest bearer token, UDP source networks, and the
exporter-toolkit web config (TLS + basic auth), against the real binary.

TLS material is made here with the openssl CLI (a throwaway CA and a server
certificate for 127.0.0.1), the bcrypt hash with htpasswd, and everything is
checked with a real client: curl with the CA file.
"""
import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from exporter_process import Exporter, parse_exposition, total, value  # noqa: E402

SOURCE_DIR = os.environ["SOURCE_DIR"]
BINARY = os.environ["EXPORTER_BINARY"]
PRICES = os.path.join(SOURCE_DIR, "exporter", "pricing", "prices.yml")

EVENT = json.dumps({"model": "claude-sonnet-4-5-20250929", "usage": {"input_tokens": 100, "output_tokens": 10},
                    "latency_ms": 1200, "labels": {"feature": "chat", "tenant": "acme"}})


def requests_total(samples):
    return total(samples, "llm_requests_total")


def rejected(samples, transport, reason="unauthorized"):
    return value(samples, "llm_exporter_events_rejected_total", transport=transport, reason=reason) or 0.0


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, check=False, **kw)


def refuses_to_start(testcase, extra_args, *expected):
    """The binary exits non-zero at start and its log names what is wrong."""
    e = Exporter(BINARY, PRICES, extra_args=extra_args)
    testcase.addCleanup(e.close)
    with testcase.assertRaises(RuntimeError) as ctx:
        e.start(timeout=10)
    for text in expected:
        testcase.assertIn(text, str(ctx.exception))


class TokenAuthTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="llm-sec-token-")
        self.addCleanup(self.tmp.cleanup)
        self.token_file = os.path.join(self.tmp.name, "token")
        with open(self.token_file, "w") as f:
            f.write("tok-0123456789abcdef\n")  # the trailing newline is trimmed
        self.exporter = Exporter(BINARY, PRICES, extra_args=["--web.ingest-token-file=" + self.token_file]).start()
        self.addCleanup(self.exporter.close)

    def test_right_token_is_counted_wrong_or_missing_is_401_and_changes_nothing_else(self):
        e = self.exporter
        status, body = e.post(EVENT, {"Authorization": "Bearer tok-0123456789abcdef"})
        self.assertEqual(status, 202, body)
        self.assertEqual(body["accepted"], 1)
        before = e.settle(lambda s: requests_total(s) == 1)
        self.assertEqual(requests_total(before), 1)

        refused = [{}, {"Authorization": "Bearer tok-0123456789abcdeF"}, {"Authorization": "Bearer tok-0123456789abcde"},
                   {"Authorization": "Bearer tok-0123456789abcdef0"}, {"Authorization": "Bearer "},
                   {"Authorization": "tok-0123456789abcdef"},
                   {"Authorization": "Basic " + base64.b64encode(b"x:tok-0123456789abcdef").decode()}]
        for headers in refused:
            req = urllib.request.Request(e.ingest + "/v1/events", data=EVENT.encode(), method="POST", headers=headers)
            try:
                urllib.request.urlopen(req, timeout=10)
                self.fail("accepted with %r" % headers)
            except urllib.error.HTTPError as err:
                self.assertEqual(err.code, 401, headers)
                self.assertTrue(err.headers.get("WWW-Authenticate", "").startswith("Bearer"), err.headers)
                reply = json.loads(err.read())
                self.assertEqual(reply["accepted"], 0)
                self.assertEqual(reply["rejected"], 1)
                self.assertEqual(reply["errors"][0]["reason"], "unauthorized")
                self.assertEqual(reply["errors"][0]["field"], "Authorization")
                self.assertNotIn("tok-0123456789abcdef", json.dumps(reply))  # never echo the secret

        after = e.scrape()
        self.assertEqual(rejected(after, "http") - rejected(before, "http"), len(refused))
        for name in ("llm_requests_total", "llm_tokens_total", "llm_cost_usd_total"):
            self.assertEqual(total(after, name), total(before, name), name)
        self.assertEqual(value(after, "llm_exporter_events_total", transport="http", result="accepted"),
                         value(before, "llm_exporter_events_total", transport="http", result="accepted"))
        self.assertNotIn("tok-0123456789abcdef", e.read_log())  # the token is never logged

    def test_body_of_a_refused_request_is_not_read_as_a_next_request(self):
        # A smuggling attempt: the refused request's body is itself a well-formed
        # request carrying the right token. The server must close, not run it.
        e = self.exporter
        inner = ("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-0123456789abcdef\r\n"
                 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(EVENT), EVENT))
        outer = ("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
                 "Content-Length: %d\r\n\r\n%s" % (len(inner), inner))
        with socket.create_connection(("127.0.0.1", e.ingest_port), timeout=10) as s:
            s.sendall(outer.encode())
            reply = b""
            deadline = time.time() + 10
            while time.time() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        self.assertTrue(reply.startswith(b"HTTP/1.1 401"), reply[:200])
        self.assertEqual(reply.count(b"HTTP/1.1 "), 1, reply)  # one answer, then the connection closed
        samples = e.scrape()
        self.assertEqual(requests_total(samples), 0)
        self.assertEqual(rejected(samples, "http"), 1)

    def test_sighup_rereads_the_token_file(self):
        e = self.exporter
        with open(self.token_file, "w") as f:
            f.write("tok-rotated\n")
        e.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and e.post(EVENT, {"Authorization": "Bearer tok-rotated"})[0] != 202:
            time.sleep(0.05)
        self.assertEqual(e.post(EVENT, {"Authorization": "Bearer tok-rotated"})[0], 202)
        self.assertEqual(e.post(EVENT, {"Authorization": "Bearer tok-0123456789abcdef"})[0], 401)

    def test_udp_is_not_affected_by_the_http_token(self):
        e = self.exporter
        e.send_udp(EVENT)
        samples = e.settle(lambda s: requests_total(s) == 1)
        self.assertEqual(requests_total(samples), 1)


class TokenFileErrorsTest(unittest.TestCase):
    def test_empty_or_missing_token_file_refuses_to_start(self):
        with tempfile.TemporaryDirectory() as d:
            empty = os.path.join(d, "empty")
            open(empty, "w").close()
            refuses_to_start(self, ["--web.ingest-token-file=" + empty], "--web.ingest-token-file", "is empty")
        refuses_to_start(self, ["--web.ingest-token-file=/nonexistent/llm-token"], "--web.ingest-token-file",
                         "/nonexistent/llm-token")


class UdpSourceNetworksTest(unittest.TestCase):
    def test_allowed_network_is_counted(self):
        e = Exporter(BINARY, PRICES, extra_args=["--udp.allowed-networks=10.0.0.0/8,127.0.0.0/8,::1/128"]).start()
        self.addCleanup(e.close)
        for _ in range(3):
            e.send_udp(EVENT)
        samples = e.settle(lambda s: requests_total(s) == 3)
        self.assertEqual(requests_total(samples), 3)
        self.assertEqual(rejected(samples, "udp"), 0)

    def test_other_sources_are_dropped_unparsed_and_counted(self):
        e = Exporter(BINARY, PRICES, extra_args=["--udp.allowed-networks=10.0.0.0/8,::1/128"]).start()
        self.addCleanup(e.close)
        e.send_udp(EVENT)
        e.send_udp("this is not json")  # would be malformed_json if it were parsed
        samples = e.settle(lambda s: rejected(s, "udp") == 2)
        self.assertEqual(rejected(samples, "udp"), 2)
        self.assertEqual(rejected(samples, "udp", "malformed_json"), 0)
        self.assertEqual(requests_total(samples), 0)
        # HTTP ingest is not restricted by the UDP list.
        self.assertEqual(e.post(EVENT)[0], 202)

    def test_bad_cidr_refuses_to_start(self):
        refuses_to_start(self, ["--udp.allowed-networks=127.0.0.0/8,10.0.0.0/33"], "--udp.allowed-networks",
                         "10.0.0.0/33", "prefix length")

    def test_a_stray_comma_or_signed_prefix_refuses_to_start(self):
        # Issue 13 item 9: "," meant allow-all, "/-0" parsed as "/0".
        refuses_to_start(self, ["--udp.allowed-networks=,"], "--udp.allowed-networks", "empty entry")
        refuses_to_start(self, ["--udp.allowed-networks=127.0.0.0/8,0.0.0.0/-0"], "--udp.allowed-networks",
                         "0.0.0.0/-0", "prefix length")


def need(tool):
    if shutil.which(tool) is None:
        raise unittest.SkipTest("%s not installed (scripts/install-deps installs it)" % tool)


class TlsBasicAuthTest(unittest.TestCase):
    """TLS and basic auth from --web.config.file, on /metrics and on ingest."""

    USER, PASSWORD = "prometheus", "corr3ct-horse"

    @classmethod
    def setUpClass(cls):
        for tool in ("openssl", "htpasswd", "curl"):
            need(tool)
        cls.tmp = tempfile.TemporaryDirectory(prefix="llm-sec-tls-")
        d = cls.tmp.name
        cls.ca = os.path.join(d, "ca.crt")
        ca_key = os.path.join(d, "ca.key")
        cls.cert, cls.key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
        cls.client_cert, cls.client_key = os.path.join(d, "client.crt"), os.path.join(d, "client.key")
        ossl = lambda *a: cls._check(["openssl"] + list(a))  # noqa: E731
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=llm-cost-exporter test CA",
             "-keyout", ca_key, "-out", cls.ca)
        for name, crt, key, ext in (("127.0.0.1", cls.cert, cls.key, "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                                    ("test client", cls.client_cert, cls.client_key, "extendedKeyUsage=clientAuth")):
            csr = crt + ".csr"
            ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout", key, "-out", csr)
            extfile = crt + ".ext"
            with open(extfile, "w") as f:
                f.write(ext + "\n")
            ossl("x509", "-req", "-in", csr, "-CA", cls.ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "1",
                 "-extfile", extfile, "-out", crt)
        cls.rogue_cert, cls.rogue_key = os.path.join(d, "rogue.crt"), os.path.join(d, "rogue.key")
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=rogue client",
             "-addext", "extendedKeyUsage=clientAuth", "-keyout", cls.rogue_key, "-out", cls.rogue_cert)
        out = cls._check(["htpasswd", "-nbB", "-C", "5", cls.USER, cls.PASSWORD]).stdout.decode().strip()
        cls.hash = out.split(":", 1)[1]
        cls.web_config = cls.write_config("web.yml", (
            "tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
            "basic_auth_users:\n  %s: '%s'\n") % (cls.cert, cls.key, cls.USER, cls.hash))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def _check(cmd):
        r = run(cmd)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (cmd[0], r.stderr.decode(errors="replace")))
        return r

    @classmethod
    def write_config(cls, name, text):
        path = os.path.join(cls.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, web_config, auth=True, client_cert=False):
        e = Exporter(BINARY, PRICES, extra_args=["--web.config.file=" + web_config])
        self.addCleanup(e.close)
        ctx = ssl.create_default_context(cafile=self.ca)
        if client_cert:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        headers = {"Authorization": "Basic " + base64.b64encode(
            ("%s:%s" % (self.USER, self.PASSWORD)).encode()).decode()} if auth else {}
        try:
            return e.start(timeout=10, ready_url="https://127.0.0.1:%d/-/ready" % e.web_port,
                           headers=headers, context=ctx, request_timeout=2)
        except RuntimeError as err:  # exited, or not ready over TLS: with the log tail
            self.fail(str(err))

    def curl(self, url, *args):
        """(curl exit code, HTTP status, headers text, body text)."""
        with tempfile.NamedTemporaryFile() as hdr, tempfile.NamedTemporaryFile() as body:
            r = run(["curl", "-sS", "--max-time", "10", "-D", hdr.name, "-o", body.name, "-w", "%{http_code}"]
                    + list(args) + [url])
            with open(hdr.name) as h, open(body.name) as b:
                return r.returncode, int(r.stdout or 0), h.read(), b.read()

    def scrape(self, e):
        rc, status, _, body = self.curl("https://127.0.0.1:%d/metrics" % e.web_port, "--cacert", self.ca,
                                        "-u", "%s:%s" % (self.USER, self.PASSWORD))
        self.assertEqual((rc, status), (0, 200))
        return body

    def test_metrics_over_tls_with_basic_auth(self):
        e = self.start(self.web_config)
        url = "https://127.0.0.1:%d/metrics" % e.web_port
        body = self.scrape(e)
        self.assertIn("llm_exporter_build_info", body)
        parse_exposition(body)
        if shutil.which("promtool"):
            r = run(["promtool", "check", "metrics"], input=body.encode())
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        rc, status, headers, _ = self.curl(url, "--cacert", self.ca, "-u", self.USER + ":wrong")
        self.assertEqual((rc, status), (0, 401))
        self.assertIn("www-authenticate: basic", headers.lower())
        self.assertIn("x-frame-options: deny", headers.lower())
        rc, status, _, _ = self.curl(url, "--cacert", self.ca, "-u", "nobody:" + self.PASSWORD)
        self.assertEqual((rc, status), (0, 401))
        rc, status, _, _ = self.curl(url, "--cacert", self.ca)
        self.assertEqual((rc, status), (0, 401))
        for path in ("/", "/-/healthy"):  # every path is guarded, as in the exporter-toolkit
            rc, status, _, _ = self.curl("https://127.0.0.1:%d%s" % (e.web_port, path), "--cacert", self.ca)
            self.assertEqual(status, 401, path)

        # Plain HTTP on the TLS port gets no HTTP answer.
        rc, status, _, _ = self.curl("http://127.0.0.1:%d/metrics" % e.web_port, "-u",
                                     "%s:%s" % (self.USER, self.PASSWORD))
        self.assertNotEqual(rc, 0)
        self.assertEqual(status, 0)
        # Trusting only the system CAs, the throwaway CA's certificate does not verify (curl exit 60).
        rc, _, _, _ = self.curl(url, "-u", "%s:%s" % (self.USER, self.PASSWORD))
        self.assertEqual(rc, 60)

    def test_min_version_is_enforced(self):
        config = self.write_config("tls13.yml", "tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
                                   "  min_version: TLS13\n" % (self.cert, self.key))
        e = self.start(config, auth=False)
        url = "https://127.0.0.1:%d/metrics" % e.web_port
        rc, status, _, _ = self.curl(url, "--cacert", self.ca, "--tlsv1.2", "--tls-max", "1.2")
        self.assertNotEqual(rc, 0)  # a TLS 1.2-only client is refused
        rc, status, _, _ = self.curl(url, "--cacert", self.ca, "--tlsv1.3")
        self.assertEqual((rc, status), (0, 200))

    def test_ingest_over_tls_with_basic_auth(self):
        e = self.start(self.web_config)
        url = "https://127.0.0.1:%d/v1/events" % e.ingest_port
        rc, status, _, body = self.curl(url, "--cacert", self.ca, "-u", "%s:%s" % (self.USER, self.PASSWORD),
                                        "-H", "Content-Type: application/json", "--data-binary", EVENT)
        self.assertEqual((rc, status), (0, 202), body)
        self.assertEqual(json.loads(body)["accepted"], 1)
        rc, status, headers, body = self.curl(url, "--cacert", self.ca, "-u", self.USER + ":wrong",
                                              "--data-binary", EVENT)
        self.assertEqual((rc, status), (0, 401), body)
        self.assertEqual(json.loads(body)["errors"][0]["reason"], "unauthorized")
        self.assertIn("www-authenticate: basic", headers.lower())
        rc, status, _, _ = self.curl("http://127.0.0.1:%d/v1/events" % e.ingest_port, "--data-binary", EVENT)
        self.assertNotEqual(rc, 0)  # no plain-HTTP ingest either
        deadline = time.time() + 5  # a new label set is exposed at zero first
        samples = parse_exposition(self.scrape(e))
        while requests_total(samples) < 1 and time.time() < deadline:
            time.sleep(0.05)
            samples = parse_exposition(self.scrape(e))
        self.assertEqual(requests_total(samples), 1)
        self.assertEqual(rejected(samples, "http"), 1)

    def test_client_certificates_when_required(self):
        config = self.write_config("mtls.yml", (
            "tls_server_config:\n  cert_file: %s\n  key_file: %s\n  client_ca_file: %s\n"
            "  client_auth_type: RequireAndVerifyClientCert\n") % (self.cert, self.key, self.ca))
        e = self.start(config, auth=False, client_cert=True)
        url = "https://127.0.0.1:%d/metrics" % e.web_port
        rc, status, _, body = self.curl(url, "--cacert", self.ca, "--cert", self.client_cert, "--key", self.client_key)
        self.assertEqual((rc, status), (0, 200))
        self.assertIn("llm_exporter_build_info", body)
        rc, status, _, _ = self.curl(url, "--cacert", self.ca)
        self.assertNotEqual(rc, 0)  # no client certificate: handshake refused
        # A certificate the CA did not sign (self-signed) is refused too.
        rc, _, _, _ = self.curl(url, "--cacert", self.ca, "--cert", self.rogue_cert, "--key", self.rogue_key)
        self.assertNotEqual(rc, 0)

    def test_bad_web_configs_refuse_to_start_with_the_reason(self):
        unknown = self.write_config("unknown.yml", "tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
                                    "  min_verison: TLS12\n" % (self.cert, self.key))
        refuses_to_start(self, ["--web.config.file=" + unknown], "unknown key 'min_verison'", unknown)
        mismatch = self.write_config("mismatch.yml", "tls_server_config:\n  cert_file: %s\n  key_file: %s\n"
                                     % (self.cert, self.client_key))
        refuses_to_start(self, ["--web.config.file=" + mismatch], "key_file", "mismatch")
        plain = self.write_config("plain.yml", "basic_auth_users:\n  alice: secret\n")
        refuses_to_start(self, ["--web.config.file=" + plain], "basic_auth_users.alice", "not a bcrypt hash")
        refuses_to_start(self, ["--web.config.file=/nonexistent/web.yml"], "/nonexistent/web.yml")


if __name__ == "__main__":
    unittest.main(verbosity=2)
