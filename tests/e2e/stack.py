"""A local llm-cost-exporter stack without Docker: the built exporter, Prometheus and
Alertmanager from Debian's packages with the project's own prometheus/ and
alertmanager/ files, and a webhook recorder. Used by scripts/stack-local and the
end-to-end tests (tests/e2e/).

Everything listens on 127.0.0.1 free ports and keeps its data in a temp dir. Every
process is started with PR_SET_PDEATHSIG(SIGKILL) through setpriv (it dies if the
thread that started it dies) and stopped by process id in Stack.close(), which
also runs at exit.

What is generated, and why (the shipped files are only read):
  prometheus.yml     the shipped prometheus/prometheus.yml with: scrape and
                     evaluation interval (default 5s), rule_files pointing at the
                     repository's prometheus/rules/*.yml plus the stack's overlay
                     dir, and local targets for the three scrape jobs and the
                     Alertmanager. Everything else (job names, rule files) is kept.
  alertmanager.yml   the shipped alertmanager/alertmanager.yml with only receiver
                     endpoints changed: the webhook URL, the PagerDuty URL
                     (global.pagerduty_url) and the Slack webhook URL file point at
                     the recorder, and the template path is made absolute. Routing,
                     grouping (group_wait etc.) and inhibition are as shipped.
  overlay/*.yml      extra rule files (threshold overrides, short-window alert
                     variants) given by the caller; see short_window_variant().
"""
import atexit
import copy
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import http.server as http_server

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
from exporter_process import Exporter, free_port, http  # noqa: E402

PROMETHEUS = os.environ.get("PROMETHEUS_BINARY", "/usr/bin/prometheus")
ALERTMANAGER = os.environ.get("ALERTMANAGER_BINARY", "/usr/bin/prometheus-alertmanager")

SETPRIV = "/usr/bin/setpriv"  # util-linux (essential): sets PR_SET_PDEATHSIG, then execs


def popen(args, **kw):
    """Popen whose child gets SIGKILL when the thread that started it dies (the
    test process, normally). setpriv execs the command, so the pid is the command's;
    no preexec_fn, which is unsafe with threads."""
    return subprocess.Popen([SETPRIV, "--pdeathsig", "KILL", "--"] + list(args), **kw)


class ManagedExporter(Exporter):
    """tests/lib's Exporter, started through popen() (dies with the test); keeps its
    ports across stop()/start(), so a restart listens where Prometheus scrapes."""

    def start(self, timeout=10):
        self.log = open(self.log_path, "ab")
        self.proc = popen(self.args(), stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
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


# --- webhook recorder -------------------------------------------------------------

class Recorder:
    """HTTP server that stores every request body (webhook, PagerDuty, Slack) as a
    JSON line {"received_unix", "received_mono", "path", "body"}."""

    def __init__(self, path, port=0):
        self.path = path
        self.records = []
        self.cond = threading.Condition()
        self.file = open(path, "a", buffering=1)
        rec = self

        class Handler(http_server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                entry = {"received_unix": time.time(), "received_mono": time.monotonic(),
                         "path": self.path}
                try:
                    entry["body"] = json.loads(raw)
                except ValueError:
                    entry["body"] = raw.decode(errors="replace")
                with rec.cond:
                    rec.records.append(entry)
                    rec.file.write(json.dumps(entry) + "\n")
                    rec.cond.notify_all()
                out = b'{"status":"ok"}'
                self.send_response(202 if self.path.startswith("/pagerduty") else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.server = http_server.ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def webhook_alerts(self):
        """[(received_mono, received_unix, status, alert dict)] from /webhook notifications."""
        out = []
        with self.cond:
            for r in self.records:
                if r["path"] == "/webhook" and isinstance(r["body"], dict):
                    for a in r["body"].get("alerts", []):
                        out.append((r["received_mono"], r["received_unix"], a.get("status"), a))
        return out

    def wait_for(self, predicate, deadline_mono):
        """Waits until some firing webhook alert satisfies predicate; returns
        (received_mono, alert) or None at the deadline."""
        while True:
            for mono, _, status, a in self.webhook_alerts():
                if status == "firing" and predicate(a):
                    return mono, a
            left = deadline_mono - time.monotonic()
            if left <= 0:
                return None
            with self.cond:
                self.cond.wait(min(left, 1.0))

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.file.close()


# --- overlays ---------------------------------------------------------------------

def thresholds_override(values, group="e2e-threshold-overrides"):
    """Rule file text recording llm:alert_threshold_override:<name> (docs/alerts.md)."""
    rules = [{"record": "llm:alert_threshold_override:%s" % k, "expr": "vector(%s)" % v}
             for k, v in values.items()]
    return yaml.safe_dump({"groups": [{"name": group, "rules": rules}]}, sort_keys=False)


_DUR = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def _seconds(text):
    total, pos = 0.0, 0
    for m in _DUR.finditer(text):
        if m.start() != pos:
            raise ValueError("bad duration %r" % text)
        total += int(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError("bad duration %r" % text)
    return total


def _fmt(seconds):
    s = int(round(seconds))
    return "%ds" % max(s, 1)


def short_window_variant(alertname, divisor, suffix=":e2e"):
    """Rule file text with a copy of the shipped alert `alertname` (incidents.yml)
    in which every range window, offset and the `for` duration are divided by
    `divisor`, together with copies (renamed with `suffix`) of every recording rule
    of recording.yml the alert reads, directly or through other recording rules,
    rewritten the same way. The expressions are otherwise the shipped ones, read
    from the repository at test time. The copy carries the label
    e2e_windows="1/<divisor>" so that a notification tells which one fired."""
    rules_dir = os.path.join(REPO, "prometheus", "rules")
    with open(os.path.join(rules_dir, "recording.yml")) as f:
        rec_groups = yaml.safe_load(f)["groups"]
    recording = []  # (record, rule) in file order, which is dependency order
    for g in rec_groups:
        for r in g["rules"]:
            if "record" in r:
                recording.append((r["record"], r))
    names = {n for n, _ in recording}
    alert = None
    for fname in sorted(os.listdir(rules_dir)):
        if not fname.endswith(".yml"):
            continue
        with open(os.path.join(rules_dir, fname)) as f:
            for g in yaml.safe_load(f).get("groups", []):
                for r in g["rules"]:
                    if r.get("alert") == alertname:
                        alert = r
    if alert is None:
        raise ValueError("no alert %s in %s" % (alertname, rules_dir))

    ident = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")

    def refs(text):
        return {t for t in ident.findall(text) if t in names}

    needed, todo = set(), refs(alert["expr"])
    while todo:
        n = todo.pop()
        if n in needed:
            continue
        needed.add(n)
        for rn, r in recording:
            if rn == n:
                todo |= refs(r["expr"]) - needed

    def rename(text):
        return ident.sub(lambda m: m.group(0) + suffix if m.group(0) in needed else m.group(0), text)

    def shorten(text):
        text = re.sub(r"\[([0-9a-z]+)\]", lambda m: "[%s]" % _fmt(_seconds(m.group(1)) / divisor), text)
        return re.sub(r"offset\s+([0-9a-z]+)", lambda m: "offset %s" % _fmt(_seconds(m.group(1)) / divisor), text)

    out = []
    for rn, r in recording:
        if rn in needed:
            c = copy.deepcopy(r)
            c["record"] = rn + suffix
            c["expr"] = shorten(rename(r["expr"]))
            out.append(c)
    a = copy.deepcopy(alert)
    a["expr"] = shorten(rename(a["expr"]))
    if "for" in a:
        a["for"] = _fmt(_seconds(a["for"]) / divisor)
    a.setdefault("labels", {})["e2e_windows"] = "1/%d" % divisor
    a["annotations"] = {k: rename(v) for k, v in a.get("annotations", {}).items()}
    out.append(a)
    group = {"name": "e2e-short-windows-%s" % alertname, "rules": out}
    return yaml.safe_dump({"groups": [group]}, sort_keys=False, width=1000)


# --- the stack --------------------------------------------------------------------

def _wait_ready(url, proc, name, timeout, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s:\n%s" % (name, proc.returncode, _tail(log_path)))
        try:
            if http("GET", url, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("%s not ready within %ss:\n%s" % (name, timeout, _tail(log_path)))


def _tail(path, n=4000):
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode(errors="replace")
    except OSError:
        return ""


class Stack:
    """Exporter + Prometheus + Alertmanager + webhook recorder on 127.0.0.1.

    build_dir: the CMake build dir (exporter at exporter/llm-cost-exporter).
    overlays: {filename: rule file text} loaded in addition to prometheus/rules/*.yml.
    storage: give the exporter --storage.path (counters survive a restart).
    """

    def __init__(self, build_dir, interval="5s", evaluation_interval=None, overlays=None,
                 storage=True, workdir=None, recorder_port=0, name="stack"):
        self.build_dir = os.path.abspath(build_dir)
        self.interval = interval
        self.evaluation_interval = evaluation_interval or interval
        self.overlays = dict(overlays or {})
        self.storage = storage
        self.name = name
        self._tmp = None
        if workdir:
            os.makedirs(workdir, exist_ok=True)
            self.dir = os.path.abspath(workdir)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="llm-e2e-%s-" % name)
            self.dir = self._tmp.name
        self.recorder_port = recorder_port
        self.exporter = self.recorder = None
        self.prom = self.am = None
        self._logs = []
        self._closed = False

    # URLs
    @property
    def prometheus_url(self):
        return "http://127.0.0.1:%d" % self.prom_port

    @property
    def alertmanager_url(self):
        return "http://127.0.0.1:%d" % self.am_port

    def start(self):
        atexit.register(self.close)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self):
        self.recorder = Recorder(os.path.join(self.dir, "notifications.jsonl"), self.recorder_port)

        with open(os.path.join(REPO, "exporter", "config", "llm-cost-exporter.yml")) as f:
            cfg = yaml.safe_load(f)
        if not any(b.get("scope") == "global" and b.get("period") == "month" for b in cfg.get("budgets", [])):
            raise RuntimeError("shipped exporter config has no global monthly budget")
        extra = []
        if self.storage:
            os.makedirs(os.path.join(self.dir, "exporter-state"), exist_ok=True)
            extra.append("--storage.path=%s" % os.path.join(self.dir, "exporter-state"))
        self.exporter = ManagedExporter(os.path.join(self.build_dir, "exporter", "llm-cost-exporter"),
                                        os.path.join(REPO, "exporter", "pricing", "prices.yml"),
                                        config_text=yaml.safe_dump(cfg), extra_args=extra)
        self.exporter.start()

        self.am_port = free_port()
        self.prom_port = free_port()
        self._start_alertmanager()
        self._start_prometheus()

    def _start_alertmanager(self):
        with open(os.path.join(REPO, "alertmanager", "alertmanager.yml")) as f:
            cfg = yaml.safe_load(f)
        am_dir = os.path.join(self.dir, "alertmanager")
        os.makedirs(os.path.join(am_dir, "data"), exist_ok=True)
        cfg["templates"] = [os.path.join(REPO, "alertmanager", t) for t in cfg.get("templates", [])]
        cfg.setdefault("global", {})["pagerduty_url"] = self.recorder.url + "/pagerduty"
        slack_file = os.path.join(am_dir, "slack_webhook_url")
        with open(slack_file, "w") as f:
            f.write(self.recorder.url + "/slack\n")
        pd_file = os.path.join(am_dir, "pagerduty_routing_key")
        with open(pd_file, "w") as f:
            f.write("e2e-routing-key\n")
        for r in cfg["receivers"]:
            for w in r.get("webhook_configs", []):
                w["url"] = self.recorder.url + "/webhook"
            for s in r.get("slack_configs", []):
                s["api_url_file"] = slack_file
            for p in r.get("pagerduty_configs", []):
                p["routing_key_file"] = pd_file
        path = os.path.join(am_dir, "alertmanager.yml")
        with open(path, "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
        log = os.path.join(am_dir, "alertmanager.log")
        self._logs.append(log)
        self.am = popen([ALERTMANAGER, "--config.file=%s" % path,
                         "--storage.path=%s" % os.path.join(am_dir, "data"),
                         "--web.listen-address=127.0.0.1:%d" % self.am_port,
                         "--cluster.listen-address="],
                        stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        _wait_ready(self.alertmanager_url + "/-/ready", self.am, "alertmanager", 30, log)

    def _start_prometheus(self):
        with open(os.path.join(REPO, "prometheus", "prometheus.yml")) as f:
            cfg = yaml.safe_load(f)
        p_dir = os.path.join(self.dir, "prometheus")
        ov_dir = os.path.join(p_dir, "overlay")
        os.makedirs(ov_dir, exist_ok=True)
        for name, text in self.overlays.items():
            with open(os.path.join(ov_dir, name), "w") as f:
                f.write(text)
        cfg["global"]["scrape_interval"] = self.interval
        cfg["global"]["evaluation_interval"] = self.evaluation_interval
        cfg["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": ["127.0.0.1:%d" % self.am_port]}]}]
        rule_files = []
        for rf in cfg["rule_files"]:
            if not rf.startswith("/etc/prometheus/rules/"):
                raise RuntimeError("unexpected rule_files entry in prometheus.yml: %s" % rf)
            rule_files.append(os.path.join(REPO, "prometheus", "rules", rf[len("/etc/prometheus/rules/"):]))
        rule_files.append(os.path.join(ov_dir, "*.yml"))
        cfg["rule_files"] = rule_files
        targets = {"llm-cost-exporter": "127.0.0.1:%d" % self.exporter.web_port,
                   "prometheus": "127.0.0.1:%d" % self.prom_port,
                   "alertmanager": "127.0.0.1:%d" % self.am_port}
        for job in cfg["scrape_configs"]:
            if job["job_name"] not in targets:
                raise RuntimeError("unexpected scrape job in prometheus.yml: %s" % job["job_name"])
            job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
        path = os.path.join(p_dir, "prometheus.yml")
        with open(path, "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
        log = os.path.join(p_dir, "prometheus.log")
        self._logs.append(log)
        self.prom = popen([PROMETHEUS, "--config.file=%s" % path,
                           "--storage.tsdb.path=%s" % os.path.join(p_dir, "data"),
                           "--storage.tsdb.retention.time=35d",
                           "--web.listen-address=127.0.0.1:%d" % self.prom_port,
                           "--web.enable-lifecycle"],
                          stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        _wait_ready(self.prometheus_url + "/-/ready", self.prom, "prometheus", 60, log)
        # Every rule file must be loaded (a broken overlay would silently test nothing).
        groups = self.query_api("/api/v1/rules")["groups"]
        loaded = {g["file"] for g in groups}
        for name in self.overlays:
            if not any(fn.endswith("/overlay/" + name) for fn in loaded):
                raise RuntimeError("overlay %s not loaded by Prometheus:\n%s" % (name, _tail(log)))
        if not any(fn.endswith("/prometheus/rules/incidents.yml") for fn in loaded):
            raise RuntimeError("shipped rules not loaded:\n%s" % _tail(log))

    # Prometheus API
    def query_api(self, path, **params):
        url = self.prometheus_url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        status, body = http("GET", url, timeout=10)
        if status != 200:
            raise RuntimeError("GET %s: %s %s" % (url, status, body[:500]))
        data = json.loads(body)
        if data.get("status") != "success":
            raise RuntimeError("GET %s: %s" % (url, data))
        return data["data"]

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = "%.3f" % at
        return self.query_api("/api/v1/query", **params)["result"]

    def scalar(self, expr, at=None):
        r = self.query(expr, at)
        if not r:
            return None
        if len(r) != 1:
            raise RuntimeError("%s: %d series" % (expr, len(r)))
        return float(r[0]["value"][1])

    def traffic(self, *args, **kw):
        return Traffic(self, *args, **kw)

    def describe(self):
        return {"exporter_metrics": self.exporter.web + "/metrics",
                "ingest_http": self.exporter.ingest + "/v1/events",
                "ingest_udp": "udp://127.0.0.1:%d" % self.exporter.ingest_port,
                "prometheus": self.prometheus_url,
                "alertmanager": self.alertmanager_url,
                "recorder": self.recorder.url + "/webhook",
                "notifications": self.recorder.path,
                "workdir": self.dir}

    def logs(self):
        out = []
        for p in self._logs + [self.exporter.log_path if self.exporter else ""]:
            if p:
                out.append("==> %s <==\n%s" % (p, _tail(p, 3000)))
        return "\n".join(out)

    def close(self):
        if self._closed:
            return
        self._closed = True
        for proc in (self.prom, self.am):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.prom, self.am):
            if proc is not None:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        if self.exporter is not None:
            try:
                self.exporter.stop()
            except RuntimeError:
                pass
            self.exporter.close()
        if self.recorder is not None:
            self.recorder.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class Traffic:
    """One llm-traffic-gen run (build/exporter/tools/llm-traffic-gen) against the stack.
    start_mono is when the generator started its clock (its first stderr line is
    written right before), so the spike's first event is at start_mono + spike_at."""

    def __init__(self, stack, *args, http_target=False, http_batch=None):
        self.binary = os.path.join(stack.build_dir, "exporter", "tools", "llm-traffic-gen")
        target = (stack.exporter.ingest + "/v1/events") if http_target else \
            "udp://127.0.0.1:%d" % stack.exporter.ingest_port
        self.args = [self.binary, "--target", target, "--print-summary"] + list(args)
        if http_batch:
            self.args += ["--http-batch", str(http_batch)]
        self.proc = popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.start_mono = None
        self.stderr = []
        self._started = threading.Event()
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._err.start()
        if not self._started.wait(10):
            self.proc.kill()
            raise RuntimeError("llm-traffic-gen did not start: %s" % "".join(self.stderr))

    def _read_err(self):
        for line in self.proc.stderr:
            if self.start_mono is None:
                self.start_mono = time.monotonic()
                self.start_unix = time.time()
                self._started.set()
            self.stderr.append(line)
        self._started.set()

    def wait(self, timeout):
        # stdout is one small JSON summary (fits the pipe buffer); stderr is read by
        # the reader thread, so no communicate() here.
        self.proc.wait(timeout=timeout)
        out = self.proc.stdout.read()
        self._err.join(5)
        if self.proc.returncode != 0:
            raise RuntimeError("llm-traffic-gen exited %s: %s" % (self.proc.returncode, "".join(self.stderr)))
        return json.loads(out)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
