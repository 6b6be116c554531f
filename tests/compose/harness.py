"""What the compose/examples tests share: the real exporter on loopback with free
ports (tests/lib's launcher; a failure prints FAIL and exits 1), /metrics parsed
into (name, labels, value), bounded runs. Standard library only."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import exporter_process  # noqa: E402
import ports  # noqa: E402

SOURCE_DIR = os.environ.get("SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.environ.get("BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
EXPORTER = os.path.join(BINARY_DIR, "exporter", "llm-cost-exporter")
TRAFFIC_GEN = os.path.join(BINARY_DIR, "exporter", "tools", "llm-traffic-gen")
free_port = ports.free_port  # for test_healthcheck.py: a port nothing listens on


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


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


class Exporter(exporter_process.Exporter):
    """The real exporter on 127.0.0.1 with free ports, run in its temp dir; stopped
    by pid (SIGTERM) on exit, and its log tail printed when the block failed."""

    def __init__(self, extra_args=()):
        if not os.access(EXPORTER, os.X_OK):
            fail("exporter binary not built: " + EXPORTER)
        super().__init__(EXPORTER, f"{SOURCE_DIR}/exporter/pricing/prices.yml", extra_args=extra_args)
        self.cwd = self.tmp.name

    @property
    def base(self):
        return self.web

    def __enter__(self):
        try:
            return self.start(timeout=20)
        except RuntimeError as e:
            self.close()
            fail(str(e))

    def __exit__(self, *exc):
        try:
            self.stop()
        except RuntimeError:
            pass  # killed after 10 s
        if exc and exc[0] is not None:
            print(self.read_log()[-3000:], file=sys.stderr)
        self.close()

    def scrape(self):
        try:
            return parse_metrics(self.scrape_text())
        except RuntimeError as e:
            fail(str(e))

    def scrape_until(self, done, timeout=15.0, interval=0.3):
        """Scrape repeatedly until done(samples) is true: a new label set is exposed at
        zero in one scrape and its events are applied after it (docs/metrics.md)."""
        deadline = time.monotonic() + timeout
        samples = self.scrape()
        while not done(samples) and time.monotonic() < deadline:
            time.sleep(interval)
            samples = self.scrape()
        return samples


COMPOSE_FILE = os.path.join(SOURCE_DIR, "docker-compose.yml")


def compose_v1(env_file, *args, env=None):
    """`docker-compose` (Debian's 1.29, the only Compose here) on docker-compose.yml
    with `env_file` as its .env. 1.29 rejects the top-level `name:` that the v2
    plugin reads, so it gets a copy without that line and the same name as -p (what
    docs/quickstart-compose.md tells v1 users to do). Returns the CompletedProcess."""
    import shutil
    import tempfile
    exe = shutil.which("docker-compose")
    if not exe:
        fail("docker-compose not found (Debian package docker-compose)")
    with open(COMPOSE_FILE) as f:
        lines = f.read().splitlines(keepends=True)
    names = [l.split(":", 1)[1].strip() for l in lines if l.startswith("name:")]
    if len(names) != 1:
        fail("docker-compose.yml must set the project name once with a top-level `name:`, has %r" % names)
    # The caller's environment must not fill in what the env file is supposed to provide.
    env = dict(env if env is not None else {k: v for k, v in os.environ.items()
                                              if not k.startswith(("GRAFANA_", "PROMETHEUS_", "DEMO_", "COMPOSE_",
                                                                   "ALERTMANAGER_", "LLM_COST_"))})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="compose-v1-") as copy:
        copy.write("".join(l for l in lines if not l.startswith("name:")))
        copy.flush()
        return run_bounded([exe, "--project-directory", SOURCE_DIR, "-p", names[0], "-f", copy.name,
                            "--env-file", env_file, *args], 60, env=env)


def compose_rendered(env_file, *args):
    """The compose file as `docker-compose config` renders it (a dict)."""
    import yaml
    res = compose_v1(env_file, *args, "config")
    if res.returncode != 0:
        fail("docker-compose config rejected the file:\n" + res.stderr)
    return yaml.safe_load(res.stdout)


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
