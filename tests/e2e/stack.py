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
The two configs are written as JSON (which is YAML). The processes are started by
tests/lib (exporter_process, prometheus_server, alertmanager_server,
webhook_recorder).
"""
import atexit
import copy
import os
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
from alertmanager_server import ALERTMANAGER, Alertmanager, route_receivers_to  # noqa: E402
from exporter_process import Exporter  # noqa: E402
from processes import popen, stop_all, tail  # noqa: E402  (popen: e2e_test.py uses stk.popen)
from prometheus_server import PROMETHEUS, Prometheus  # noqa: E402
from webhook_recorder import Recorder  # noqa: E402


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

class Stack:
    """Exporter + Prometheus + Alertmanager + webhook recorder on 127.0.0.1.

    build_dir: the CMake build dir (exporter at exporter/llm-cost-exporter).
    overlays: {filename: rule file text} loaded in addition to prometheus/rules/*.yml.
    storage: give the exporter --storage.path (counters survive a restart).
    """

    def __init__(self, build_dir, interval="5s", evaluation_interval=None, overlays=None,
                 storage=True, workdir=None, recorder_port=0, name="stack", budget_scale=1):
        self.build_dir = os.path.abspath(build_dir)
        # Multiplies every budget of the shipped exporter config (a test overlay; the
        # file is not edited), for runs whose steady traffic must stay within budget.
        self.budget_scale = budget_scale
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
        self.prometheus = self.alertmanager = None
        self._closed = False

    # Processes (Popen objects: poll(), pid) and URLs
    @property
    def prom(self):
        return self.prometheus and self.prometheus.proc

    @property
    def am(self):
        return self.alertmanager and self.alertmanager.proc

    @property
    def prom_port(self):
        return self.prometheus.port

    @property
    def am_port(self):
        return self.alertmanager.port

    @property
    def prometheus_url(self):
        return self.prometheus.url

    @property
    def alertmanager_url(self):
        return self.alertmanager.url

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
        for b in cfg["budgets"]:
            b["usd"] = b["usd"] * self.budget_scale
        extra = []
        if self.storage:
            os.makedirs(os.path.join(self.dir, "exporter-state"), exist_ok=True)
            extra.append("--storage.path=%s" % os.path.join(self.dir, "exporter-state"))
        # Its ports stay the same across stop()/start(): a restart listens where Prometheus scrapes.
        self.exporter = Exporter(os.path.join(self.build_dir, "exporter", "llm-cost-exporter"),
                                 os.path.join(REPO, "exporter", "pricing", "prices.yml"),
                                 config_text=yaml.safe_dump(cfg), extra_args=extra)
        self.exporter.start()

        self.alertmanager = Alertmanager(ALERTMANAGER, os.path.join(self.dir, "alertmanager"))
        self.prometheus = Prometheus(PROMETHEUS, os.path.join(self.dir, "prometheus"),
                                     ["--storage.tsdb.retention.time=35d", "--web.enable-lifecycle"])
        self._start_alertmanager()
        self._start_prometheus()

    def _start_alertmanager(self):
        with open(os.path.join(REPO, "alertmanager", "alertmanager.yml")) as f:
            cfg = yaml.safe_load(f)
        route_receivers_to(cfg, self.recorder.url, self.alertmanager.dir, "e2e-routing-key",
                           os.path.join(REPO, "alertmanager"))
        self.alertmanager.start(cfg, timeout=30)

    def _start_prometheus(self):
        with open(os.path.join(REPO, "prometheus", "prometheus.yml")) as f:
            cfg = yaml.safe_load(f)
        prom = self.prometheus
        os.makedirs(os.path.join(prom.dir, "overlay"), exist_ok=True)
        for name, text in self.overlays.items():
            prom.write_file(os.path.join("overlay", name), text)
        cfg["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [self.alertmanager.address]}]}]
        rule_files = []
        for rf in cfg["rule_files"]:
            if not rf.startswith("/etc/prometheus/rules/"):
                raise RuntimeError("unexpected rule_files entry in prometheus.yml: %s" % rf)
            rule_files.append(os.path.join(REPO, "prometheus", "rules", rf[len("/etc/prometheus/rules/"):]))
        rule_files.append(os.path.join(prom.dir, "overlay", "*.yml"))
        targets = {"llm-cost-exporter": "127.0.0.1:%d" % self.exporter.web_port,
                   "prometheus": prom.address,
                   "alertmanager": self.alertmanager.address}
        for job in cfg["scrape_configs"]:
            if job["job_name"] not in targets:
                raise RuntimeError("unexpected scrape job in prometheus.yml: %s" % job["job_name"])
            job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
        prom.start(cfg, rule_files, self.interval, self.evaluation_interval, timeout=60)
        # Every rule file must be loaded (a broken overlay would silently test nothing).
        loaded = {g["file"] for g in prom.rules()}
        for name in self.overlays:
            if not any(fn.endswith("/overlay/" + name) for fn in loaded):
                raise RuntimeError("overlay %s not loaded by Prometheus:\n%s" % (name, prom.log_tail()))
        if not any(fn.endswith("/prometheus/rules/incidents.yml") for fn in loaded):
            raise RuntimeError("shipped rules not loaded:\n%s" % prom.log_tail())

    # Prometheus API
    def query_api(self, path, **params):
        return self.prometheus.api(path, **params)

    def query(self, expr, at=None):
        return self.prometheus.query(expr, at)

    def scalar(self, expr, at=None):
        return self.prometheus.scalar(expr, at)

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
        for p in (self.alertmanager, self.prometheus, self.exporter):
            if p is not None and p.proc is not None:
                out.append("==> %s <==\n%s" % (p.proc.log_path, tail(p.proc.log_path)))
        return "\n".join(out)

    def close(self):
        if self._closed:
            return
        self._closed = True
        stop_all([self.prom, self.am], timeout=15)
        if self.exporter is not None:
            try:
                self.exporter.stop()
            except RuntimeError:
                pass
            self.exporter.close()
        for server in (self.prometheus, self.alertmanager, self.recorder):
            if server is not None:
                server.close()
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
