"""A real Prometheus for tests: on a free 127.0.0.1 port, with its config, extra
rule files, TSDB (data/) and log in one work dir (a temp dir unless one is given),
stopped by process id. Plus the HTTP API calls the tests make."""
import copy
import json
import os
import urllib.parse

from http_client import http
from loopback_server import LoopbackServer

PROMETHEUS = os.environ.get("PROMETHEUS_BINARY", "/usr/bin/prometheus")


def scrape_job(name, target, **options):
    """A scrape_configs entry for one static target ("127.0.0.1:port"); options
    (metrics_path, ...) are added to the job."""
    return dict({"job_name": name, "static_configs": [{"targets": [target]}]}, **options)


class Prometheus(LoopbackServer):
    """Prometheus(binary=PROMETHEUS, workdir=None, flags=(), api_timeout=10); files
    for it (rule files) go in with write_file(name, text)."""

    name = "prometheus"

    def __init__(self, binary=PROMETHEUS, workdir=None, flags=(), api_timeout=10):
        super().__init__(binary, workdir, flags, api_timeout)

    def start(self, config, rule_files=None, scrape_interval=None, evaluation_interval=None, timeout=60):
        """Writes `config` (a dict; rule_files and the intervals, when given, replace
        its own) and starts Prometheus with --config.file, --storage.tsdb.path,
        --web.listen-address and the extra flags; waits up to `timeout` seconds for
        /-/ready. On failure the process is stopped and RuntimeError carries the
        log tail."""
        cfg = copy.deepcopy(config)
        if scrape_interval is not None:
            cfg.setdefault("global", {})["scrape_interval"] = scrape_interval
        if evaluation_interval is not None:
            cfg.setdefault("global", {})["evaluation_interval"] = evaluation_interval
        if rule_files is not None:
            cfg["rule_files"] = list(rule_files)
        return self._run(cfg, ["--config.file=%s" % self.config_file,
                               "--storage.tsdb.path=%s" % os.path.join(self.dir, "data"),
                               "--web.listen-address=%s" % self.address], timeout)

    # HTTP API
    def request(self, path, params=None, method="GET", timeout=None):
        """(HTTP status, body bytes) of one API request; params go in the query
        string (GET) or as a form (POST)."""
        query = urllib.parse.urlencode(params or {}, doseq=True)
        if method == "GET":
            return http("GET", self.url + path + ("?" + query if query else ""),
                        timeout=timeout or self.api_timeout)
        return http(method, self.url + path, query.encode(),
                    {"Content-Type": "application/x-www-form-urlencoded"}, timeout=timeout or self.api_timeout)

    def api(self, path, **params):
        """The "data" of a successful GET; RuntimeError otherwise."""
        status, body = self.request(path, params)
        if status != 200:
            raise RuntimeError("GET %s %s: %s %s" % (path, params, status, body[:500]))
        doc = json.loads(body)
        if doc.get("status") != "success":
            raise RuntimeError("GET %s %s: %s" % (path, params, doc))
        return doc["data"]

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = "%.3f" % at
        return self.api("/api/v1/query", **params)["result"]

    def query_range(self, expr, start, end, step):
        return self.api("/api/v1/query_range", query=expr, start="%.3f" % start, end="%.3f" % end,
                        step=str(step))["result"]

    def scalar(self, expr, at=None):
        """The value of a one-series instant query; None if it has no series."""
        r = self.query(expr, at)
        if not r:
            return None
        if len(r) != 1:
            raise RuntimeError("%s: %d series" % (expr, len(r)))
        return float(r[0]["value"][1])

    def rules(self):
        return self.api("/api/v1/rules")["groups"]

    def alerts(self):
        return self.api("/api/v1/alerts")["alerts"]

    def targets(self):
        return self.api("/api/v1/targets")["activeTargets"]
