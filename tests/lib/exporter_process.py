"""Start and stop the real llm-cost-exporter binary for tests, on free loopback ports.

Shared by the integration, dashboard, compose and e2e tests and the benchmarks.
The process is a processes.Process: stopped by process id, on exit and on failure,
and killed with the test (PR_SET_PDEATHSIG).
"""
import json
import os
import re
import signal
import socket
import tempfile
import time

from http_client import http
from ports import free_port
from processes import Process


LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """Prometheus text format -> {(name, frozenset(labels.items())): value}."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError("unparseable exposition line: %r" % line)
        labels = dict(LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return samples


class Exporter:
    """The exporter on 127.0.0.1: web and ingest (HTTP and UDP) on free ports that
    stay the same across stop()/start(), config and log in a temp dir."""

    def __init__(self, binary, pricing_file, config_text=None, extra_args=(), env=None):
        self.binary = binary
        self.tmp = tempfile.TemporaryDirectory(prefix="llm-cost-exporter-test-")
        self.web_port = free_port()
        self.ingest_port = free_port()
        self.otlp_port = free_port()
        self.pricing_file = pricing_file
        self.config_file = None
        if config_text is not None:
            self.config_file = os.path.join(self.tmp.name, "config.yml")
            with open(self.config_file, "w") as f:
                f.write(config_text)
        self.extra_args = list(extra_args)
        self.log_path = os.path.join(self.tmp.name, "exporter.log")
        self.proc = None  # a processes.Process (a subprocess.Popen)
        self.env = env
        self.cwd = None

    @property
    def web(self):
        return "http://127.0.0.1:%d" % self.web_port

    @property
    def ingest(self):
        return "http://127.0.0.1:%d" % self.ingest_port

    @property
    def otlp(self):
        return "http://127.0.0.1:%d" % self.otlp_port

    def args(self):
        a = [self.binary,
             "--web.listen-address=127.0.0.1:%d" % self.web_port,
             "--ingest.listen-address=127.0.0.1:%d" % self.ingest_port,
             "--udp.listen-address=127.0.0.1:%d" % self.ingest_port,
             "--otlp.listen-address=127.0.0.1:%d" % self.otlp_port,
             "--pricing.file=%s" % self.pricing_file,
             # New label sets go live at the scrape after the one that showed their
             # zero (tests scrape in a loop; the default serves the zero for 30 s).
             # A test of the zero-first time passes its own value in extra_args.
             "--web.zero-first-duration=0s"]
        if self.config_file:
            a.append("--config.file=%s" % self.config_file)
        return a + self.extra_args

    def start(self, timeout=10, ready_url=None, **http_options):
        """Starts the binary and waits for ready_url (default /-/ready) to answer 200;
        http_options (headers, context, request_timeout) go to the readiness probe.
        On failure the process is stopped and RuntimeError carries the log tail."""
        self.proc = Process.start_ready("exporter", self.args(), self.log_path, ready_url or self.web + "/-/ready",
                                        timeout, interval=0.05, cwd=self.cwd, env=self.env, **http_options)
        return self

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process by pid; returns its exit code (None if never started).
        RuntimeError if it had to be killed after `timeout` seconds."""
        return None if self.proc is None else self.proc.stop(sig, timeout)

    def close(self):
        """Kills the process (SIGKILL, by pid) if it still runs; removes the temp dir."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
        finally:
            self.tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # Traffic and scrapes.
    def post(self, body, headers=None):
        status, data = http("POST", self.ingest + "/v1/events", body, headers)
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data

    def send_udp(self, payload):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(payload.encode() if isinstance(payload, str) else payload, ("127.0.0.1", self.ingest_port))

    def scrape_text(self):
        status, body = http("GET", self.web + "/metrics")
        if status != 200:
            raise RuntimeError("scrape failed: %s" % status)
        return body.decode()

    def scrape(self):
        return parse_exposition(self.scrape_text())

    def settle(self, predicate=None, timeout=5):
        """Scrapes until new label sets are live (exposed once at zero) and the
        predicate over the samples holds; returns the last samples."""
        deadline = time.time() + timeout
        samples = self.scrape()
        while time.time() < deadline:
            samples = self.scrape()
            if predicate is None or predicate(samples):
                return samples
            time.sleep(0.05)
        return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def total(samples, name, **match):
    """Sum of every sample of `name` whose labels include `match`."""
    s = 0.0
    for (n, labels), v in samples.items():
        if n == name and all((k, val) in labels for k, val in match.items()):
            s += v
    return s
