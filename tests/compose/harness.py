"""Shared helpers for the compose/examples tests: run the real exporter on loopback
with free ports, scrape and parse /metrics. Standard library only."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SOURCE_DIR = os.environ.get("SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.environ.get("BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
EXPORTER = os.path.join(BINARY_DIR, "exporter", "llm-cost-exporter")
TRAFFIC_GEN = os.path.join(BINARY_DIR, "exporter", "tools", "llm-traffic-gen")


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def free_port(both_udp=False):
    """A loopback port free for TCP (and UDP too when asked). Bounded attempts."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            if not both_udp:
                return port
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    fail("no free port found")


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def parse_metrics(text):
    """Prometheus text format -> list of (name, {labels}, value)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            fail("unparseable metrics line: " + line)
        labels = {}
        body = m.group(2) or ""
        pos = 0
        while pos < len(body):
            lm = _LABEL.match(body, pos)
            if not lm:
                fail("unparseable labels: " + line)
            labels[lm.group(1)] = lm.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
            pos = lm.end()
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def total(samples, name, **match):
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == want for k, want in match.items()))


def by_label(samples, name, label, **match):
    out = {}
    for n, l, v in samples:
        if n == name and all(l.get(k) == want for k, want in match.items()):
            out[l.get(label)] = out.get(l.get(label), 0) + v
    return {k: v for k, v in out.items() if v != 0}


class Exporter:
    """The real exporter on 127.0.0.1 with free ports; stopped by pid on exit."""

    def __init__(self, extra_args=()):
        if not os.access(EXPORTER, os.X_OK):
            fail("exporter binary not built: " + EXPORTER)
        self.web_port = free_port()
        self.ingest_port = free_port(both_udp=True)
        self.tmp = tempfile.TemporaryDirectory(prefix="llm-compose-test-")
        self.log_path = os.path.join(self.tmp.name, "exporter.log")
        self.args = [EXPORTER,
                     f"--web.listen-address=127.0.0.1:{self.web_port}",
                     f"--ingest.listen-address=127.0.0.1:{self.ingest_port}",
                     f"--udp.listen-address=127.0.0.1:{self.ingest_port}",
                     f"--pricing.file={SOURCE_DIR}/exporter/pricing/prices.yml", *extra_args]
        self.proc = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.web_port}"

    def __enter__(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.tmp.name)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(f"exporter exited with {self.proc.returncode}:\n{open(self.log_path).read()[-3000:]}")
            try:
                if http_get(self.base + "/-/ready", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        fail("exporter not ready within 20 s")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        if exc and exc[0] is not None:
            print(open(self.log_path).read()[-3000:], file=sys.stderr)
        self.tmp.cleanup()

    def scrape(self):
        status, body = http_get(self.base + "/metrics")
        if status != 200:
            fail(f"/metrics answered {status}")
        return parse_metrics(body)

    def scrape_until(self, done, timeout=15.0, interval=0.3):
        """Scrape repeatedly until done(samples) is true: a new label set is exposed at
        zero in one scrape and its events are applied after it (docs/metrics.md)."""
        deadline = time.monotonic() + timeout
        samples = self.scrape()
        while not done(samples) and time.monotonic() < deadline:
            time.sleep(interval)
            samples = self.scrape()
        return samples


def run_bounded(args, timeout, **kw):
    """subprocess.run with a hard time limit; the child is killed by pid on expiry."""
    try:
        return subprocess.run(args, timeout=timeout, capture_output=True, text=True, **kw)
    except subprocess.TimeoutExpired as e:
        fail(f"{args[0]} did not finish within {timeout} s: {e.stderr}")


def summary_of(result):
    if result.returncode != 0:
        fail(f"traffic generator exited {result.returncode}: {result.stderr[-2000:]}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        fail("traffic generator summary is not JSON: " + result.stdout[:500])
