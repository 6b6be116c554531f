"""Start and stop the real llm-cost-exporter binary for tests, on free loopback ports.

Shared by the integration, dashboard, compose and e2e tests. Every process it
starts is stopped by process id, on exit and on failure.
"""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    """A free TCP port that is also free for UDP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def http(method, url, body=None, headers=None, timeout=10):
    """Returns (status, body bytes); never raises on HTTP error statuses."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


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
    def __init__(self, binary, pricing_file, config_text=None, extra_args=(), env=None):
        self.binary = binary
        self.tmp = tempfile.TemporaryDirectory(prefix="llm-cost-exporter-test-")
        self.web_port = free_port()
        self.ingest_port = free_port()
        self.pricing_file = pricing_file
        self.config_file = None
        if config_text is not None:
            self.config_file = os.path.join(self.tmp.name, "config.yml")
            with open(self.config_file, "w") as f:
                f.write(config_text)
        self.extra_args = list(extra_args)
        self.log_path = os.path.join(self.tmp.name, "exporter.log")
        self.proc = None
        self.env = env

    @property
    def web(self):
        return "http://127.0.0.1:%d" % self.web_port

    @property
    def ingest(self):
        return "http://127.0.0.1:%d" % self.ingest_port

    def args(self):
        a = [self.binary,
             "--web.listen-address=127.0.0.1:%d" % self.web_port,
             "--ingest.listen-address=127.0.0.1:%d" % self.ingest_port,
             "--udp.listen-address=127.0.0.1:%d" % self.ingest_port,
             "--pricing.file=%s" % self.pricing_file]
        if self.config_file:
            a.append("--config.file=%s" % self.config_file)
        return a + self.extra_args

    def start(self, timeout=10):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("exporter exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                if http("GET", self.web + "/-/ready", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("exporter not ready within %ss:\n%s" % (timeout, self.read_log()))

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process by pid; returns its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise RuntimeError("exporter did not stop within %ss after signal %s" % (timeout, sig))
        finally:
            if not self.log.closed:
                self.log.close()

    def close(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
        finally:
            if getattr(self, "log", None) is not None and not self.log.closed:
                self.log.close()
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
