"""A real Alertmanager for tests: on a free 127.0.0.1 port, no cluster listener,
config, data (data/) and log in one work dir (a temp dir unless one is given),
stopped by process id. Plus the v2 API calls the tests make, and the one change
the tests make to the shipped alertmanager/alertmanager.yml: receivers pointed at
a local recorder."""
import json
import os

from http_client import http
from loopback_server import LoopbackServer

ALERTMANAGER = os.environ.get("ALERTMANAGER_BINARY", "/usr/bin/prometheus-alertmanager")
SHIPPED_SECRETS_DIR = "/etc/alertmanager/secrets/"


def route_receivers_to(config, base_url, secrets_dir, routing_key, templates_dir):
    """Changes only the receiver endpoints of the parsed shipped config, in place:
    webhook URLs to base_url/webhook, global.pagerduty_url to base_url/pagerduty,
    the Slack URL and PagerDuty key files (which the shipped file reads from
    /etc/alertmanager/secrets/) to files written in secrets_dir, and template
    paths made absolute against templates_dir. Returns config."""
    config["templates"] = [os.path.join(templates_dir, t) for t in config.get("templates", [])]
    config.setdefault("global", {})["pagerduty_url"] = base_url + "/pagerduty"
    slack_file = os.path.join(secrets_dir, "slack_webhook_url")
    with open(slack_file, "w") as f:
        f.write(base_url + "/slack\n")
    pd_file = os.path.join(secrets_dir, "pagerduty_routing_key")
    with open(pd_file, "w") as f:
        f.write(routing_key + "\n")
    for r in config["receivers"]:
        for w in r.get("webhook_configs", []):
            w["url"] = base_url + "/webhook"
        for s in r.get("slack_configs", []):
            if not s["api_url_file"].startswith(SHIPPED_SECRETS_DIR):
                raise ValueError("Slack URL file outside %s: %s" % (SHIPPED_SECRETS_DIR, s))
            s["api_url_file"] = slack_file
        for p in r.get("pagerduty_configs", []):
            if not p["routing_key_file"].startswith(SHIPPED_SECRETS_DIR):
                raise ValueError("PagerDuty key file outside %s: %s" % (SHIPPED_SECRETS_DIR, p))
            p["routing_key_file"] = pd_file
    return config


class Alertmanager(LoopbackServer):
    """Alertmanager(binary=ALERTMANAGER, workdir=None, flags=(), api_timeout=5)."""

    name = "alertmanager"

    def __init__(self, binary=ALERTMANAGER, workdir=None, flags=(), api_timeout=5):
        super().__init__(binary, workdir, flags, api_timeout)

    def start(self, config, timeout=30):
        """Writes `config` (a dict) and starts Alertmanager with --config.file,
        --storage.path, --web.listen-address, --cluster.listen-address= (no
        cluster) and the extra flags; waits up to `timeout` seconds for /-/ready.
        On failure the process is stopped and RuntimeError carries the log tail."""
        return self._run(config, ["--config.file=%s" % self.config_file,
                                  "--storage.path=%s" % os.path.join(self.dir, "data"),
                                  "--web.listen-address=%s" % self.address,
                                  "--cluster.listen-address="], timeout)

    # HTTP API (v2)
    def api(self, path, method="GET", data=None):
        """The decoded JSON answer (None if empty) of a 2xx; RuntimeError otherwise."""
        body = None if data is None else json.dumps(data).encode()
        status, out = http(method, self.url + path, body, {"Content-Type": "application/json"},
                           timeout=self.api_timeout)
        if status // 100 != 2:
            raise RuntimeError("%s %s: %s %s" % (method, path, status, out[:500]))
        return json.loads(out) if out else None

    def post_alerts(self, alerts):
        return self.api("/api/v2/alerts", "POST", alerts)

    def alerts(self):
        return self.api("/api/v2/alerts")
