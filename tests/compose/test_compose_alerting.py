"""The compose stack's alerting path, run with the real binaries (Debian's Prometheus,
Alertmanager and the built exporter) as `docker compose` would start them, from the
compose file as `docker-compose config` renders it:

- fresh stack (no .env): Alertmanager starts through its compose entrypoint
  (alertmanager/compose-start.sh) with the rendered environment and command; its
  only receiver is the alert-log service (its rendered command, on a free port); a
  page reaches alert-log (log line and GET /), and Alertmanager logs no error (no
  Slack/PagerDuty route without their secret). Prometheus runs the rendered command
  on the mounted prometheus.yml and rules: every rule group loads, the exporter
  target is up, and Alertmanager is its active alertmanager.
- .env with Slack and PagerDuty set: both routes exist (amtool on the rendered
  config), the key file holds the key, and a ticket reaches Slack (a local recorder
  as the webhook URL) and alert-log.

The one change from compose: service names resolve to loopback ports (the copy of
alertmanager/ has alert-log:9099 -> 127.0.0.1:<port>; prometheus.yml's targets and
rule paths are mapped like tests/e2e does)."""
import glob
import json
import os
import re
import shutil
import sys
import tempfile
import time

from harness import SOURCE_DIR, Exporter, compose_rendered, fail
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "lib"))
import yaml  # noqa: E402
from alertmanager_server import ALERTMANAGER, Alertmanager  # noqa: E402
from http_client import http  # noqa: E402
from ports import free_port  # noqa: E402
from processes import Process, stop_all  # noqa: E402
from prometheus_server import PROMETHEUS, Prometheus  # noqa: E402
from webhook_recorder import Recorder  # noqa: E402

AMTOOL = shutil.which("amtool") or "amtool"


def host_path(service, container_path):
    """The repository path that the rendered service mounts at container_path."""
    for vol in service.get("volumes", []):
        src, _, rest = vol.partition(":")
        dst = rest.split(":")[0]
        if container_path == dst or container_path.startswith(dst.rstrip("/") + "/"):
            return os.path.join(src, os.path.relpath(container_path, dst)) if container_path != dst else src
    fail("%s is not mounted: %r" % (container_path, service.get("volumes")))


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    fail("timed out (%s s): %s" % (timeout, what))


class ComposeAlertmanager(Alertmanager):
    """Alertmanager started by the compose entrypoint with the rendered environment."""

    def start_compose(self, service, am_dir, extra_env):
        entry = service["entrypoint"]
        if entry[:1] != ["/bin/sh"] or not entry[1].startswith("/etc/alertmanager/"):
            fail("unexpected alertmanager entrypoint %r" % entry)
        script = os.path.join(am_dir, os.path.relpath(entry[1], "/etc/alertmanager"))
        self.render_dir = os.path.join(self.dir, "data")
        args = [a.replace("=/alertmanager", "=" + self.render_dir) for a in service.get("command", [])]
        env = dict(PATH=os.environ["PATH"], ALERTMANAGER_RENDER_DIR=self.render_dir, ALERTMANAGER_BIN=ALERTMANAGER,
                   **{k: str(v) for k, v in (service.get("environment") or {}).items()}, **extra_env)
        self.proc = Process.start_ready("alertmanager", ["/bin/sh", script, *args,
                                                         "--web.listen-address=" + self.address,
                                                         "--cluster.listen-address="],
                                        self.log_path, self.url + "/-/ready", 30, env=env)
        return os.path.join(self.render_dir, "alertmanager.yml")


def alert(name, severity, **labels):
    return [{"labels": dict(alertname=name, severity=severity, **labels),
             "annotations": {"summary": "test " + name, "runbook_url": "docs/runbook.md#" + name.lower()},
             "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]


def start_alert_log(service, port, log_path):
    cmd = list(service["command"])
    script = host_path(service, next(a for a in cmd if a.endswith(".py")))
    cmd = [script if a.endswith(".py") else a for a in cmd]
    cmd[cmd.index("--listen") + 1] = "127.0.0.1:%d" % port
    cmd[0] = sys.executable  # python3 in the python image
    return Process.start_ready("alert-log", cmd, log_path, "http://127.0.0.1:%d/-/healthy" % port, 15)


def routes(config, **labels):
    res = __import__("subprocess").run([AMTOOL, "config", "routes", "test", "--config.file=" + config,
                                         *("%s=%s" % kv for kv in labels.items())],
                                        capture_output=True, text=True, timeout=30)
    return set(res.stdout.strip().split(","))


def stack(env_text, tmp, check):
    env_file = os.path.join(tmp, "env-%d" % len(os.listdir(tmp)))
    with open(env_file, "w") as f:
        f.write(env_text)
    rendered = compose_rendered(env_file)["services"]
    work = tempfile.mkdtemp(dir=tmp)
    port = free_port()
    # alertmanager/ as mounted, with the alert-log service's name resolved to its port.
    am_src = host_path(rendered["alertmanager"], "/etc/alertmanager")
    am_dir = os.path.join(work, "alertmanager")
    shutil.copytree(am_src, am_dir)
    cfg_path = os.path.join(am_dir, "alertmanager.yml")
    text = open(cfg_path).read()
    if "http://alert-log:9099/" not in text:
        fail("the shipped default receiver is not the alert-log service")
    open(cfg_path, "w").write(text.replace("http://alert-log:9099/", "http://127.0.0.1:%d/" % port))
    log_path = os.path.join(work, "alert-log.log")
    receiver = start_alert_log(rendered["alert-log"], port, log_path)
    am = ComposeAlertmanager(workdir=os.path.join(work, "am"))
    try:
        rendered_cfg = am.start_compose(rendered["alertmanager"], am_dir, {})
        check(rendered, am, rendered_cfg, receiver, port)
    except RuntimeError as e:
        fail(str(e))
    finally:
        am.stop()
        stop_all([receiver])


def fresh(rendered, am, cfg, receiver, port):
    if routes(cfg, alertname="LLMBudgetBurnRate", severity="page", scope="global") != {"webhook"}:
        fail("without .env a page must route to the webhook (alert-log) only: %s" % routes(cfg, severity="page"))
    am.post_alerts(alert("LLMBudgetBurnRate", "page", scope="global"))
    line = wait(lambda: next((l for l in receiver.log_tail(50).splitlines()
                              if "alertname=LLMBudgetBurnRate" in l and "status=firing" in l), None),
                30, "the page did not reach alert-log's log")
    if "severity=page" not in line or "scope=global" not in line or "summary=" not in line:
        fail("alert-log line lacks labels/summary: " + line)
    status, body = http("GET", "http://127.0.0.1:%d/" % port)
    if status != 200 or b"LLMBudgetBurnRate" not in body:
        fail("alert-log's GET / does not list the page: %s %r" % (status, body[:300]))
    log = am.log_tail(400)
    bad = [l for l in log.splitlines() if "level=error" in l or "level=warn" in l]
    if bad or "compose-start: slack off" not in log or "compose-start: pagerduty off" not in log:
        fail("Alertmanager without Slack/PagerDuty secrets must log no error:\n" + log[-3000:])
    prometheus(rendered, am)
    print("ok: fresh stack: page -> alert-log (%s)" % line[:120])


def prometheus(rendered, am):
    svc = rendered["prometheus"]
    flags = svc["command"]
    cfg_file = host_path(svc, next(a.split("=", 1)[1] for a in flags if a.startswith("--config.file=")))
    cfg = yaml.safe_load(open(cfg_file))
    rules_dir = host_path(svc, "/etc/prometheus/rules")
    rule_files = []
    for rf in cfg["rule_files"]:
        rule_files += sorted(glob.glob(host_path(svc, rf)))
    groups = sum(len(yaml.safe_load(open(f))["groups"]) for f in rule_files)
    with Exporter() as ex:
        prom = Prometheus(flags=[a for a in flags if a.startswith("--storage.tsdb.retention")])
        try:
            targets = {"exporter:10429": "127.0.0.1:%d" % ex.web_port, "alertmanager:9093": am.address,
                       "localhost:9090": prom.address}
            for job in cfg["scrape_configs"]:
                for sc in job["static_configs"]:
                    sc["targets"] = [targets[t] for t in sc["targets"]]
            for a in cfg["alerting"]["alertmanagers"]:
                for sc in a["static_configs"]:
                    sc["targets"] = [targets[t] for t in sc["targets"]]
            prom.start(cfg, rule_files, timeout=60)
            loaded = prom.rules()
            if len(loaded) != groups or not all(os.path.dirname(g["file"]) == rules_dir for g in loaded):
                fail("Prometheus loaded %d rule groups, the mounted rules have %d" % (len(loaded), groups))
            wait(lambda: any(t["labels"].get("job") == "llm-cost-exporter" and t["health"] == "up"
                             for t in prom.targets()), 40, "exporter target up")
            ams = wait(lambda: prom.api("/api/v1/alertmanagers")["activeAlertmanagers"], 30, "active alertmanager")
            if am.address not in json.dumps(ams):
                fail("Prometheus sends alerts to %r, not the compose Alertmanager" % ams)
        finally:
            prom.close()
    print("ok: Prometheus on the rendered command: %d rule groups, exporter up, Alertmanager active" % groups)


def with_secrets(recorder):
    def check(rendered, am, cfg, receiver, port):
        if routes(cfg, alertname="LLMBudgetBurnRate", severity="page", scope="global") != {"webhook", "pagerduty", "slack"}:
            fail("with both variables a page must reach webhook, pagerduty and slack: %s"
                 % routes(cfg, alertname="LLMBudgetBurnRate", severity="page", scope="global"))
        key = open(os.path.join(am.render_dir, "secrets", "pagerduty_routing_key")).read().strip()
        if key != "test-routing-key" or oct(os.stat(os.path.join(am.render_dir, "secrets")).st_mode & 0o777) != "0o700":
            fail("PagerDuty key file %r (secrets dir must be 0700)" % key)
        am.post_alerts(alert("LLMSpendSpike", "ticket", feature="chat"))
        wait(lambda: any(p == "/slack" for p, _ in recorder.received()), 40, "the ticket did not reach Slack")
        body = next(b for p, b in recorder.received() if p == "/slack")
        if body.get("channel") != "#llm-cost" or "LLMSpendSpike" not in json.dumps(body):
            fail("Slack message: %r" % body)
        wait(lambda: "alertname=LLMSpendSpike" in receiver.log_tail(50), 30, "the ticket did not reach alert-log")
        print("ok: .env with Slack and PagerDuty: both routed, ticket -> Slack #llm-cost and alert-log")
    return check


def main():
    for binary in (ALERTMANAGER, PROMETHEUS):
        if not os.access(binary, os.X_OK):
            fail(binary + " not installed")
    tmp = tempfile.mkdtemp(prefix="llm-compose-alerting-")
    try:
        stack("", tmp, fresh)
        with Recorder() as rec:
            stack("ALERTMANAGER_SLACK_WEBHOOK_URL=%s/slack\nALERTMANAGER_PAGERDUTY_ROUTING_KEY=test-routing-key\n"
                  % rec.url, tmp, with_secrets(rec))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
