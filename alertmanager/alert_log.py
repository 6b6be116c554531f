"""alert-log: the compose stack's default Alertmanager receiver, which needs no
secret. Alertmanager's webhook posts every notification to /alerts; each alert in it
is printed as one logfmt line (`docker compose logs -f alert-log`), and the last 200
are listed, newest first, at GET / (http://127.0.0.1:9099/ from the host).
  python3 alert_log.py [--listen 0.0.0.0:9099]
Standard library only; stores nothing on disk."""
import argparse
import collections
import http.server
import json
import signal
import sys
import threading
import time

RECENT = collections.deque(maxlen=200)
LOCK = threading.Lock()
FIELDS = ("alertname", "severity", "scope", "feature", "tenant", "model")


def logfmt(pairs):
    out = []
    for k, v in pairs:
        v = str(v)
        out.append("%s=%s" % (k, json.dumps(v) if (not v or any(c in v for c in ' "=\\')) else v))
    return " ".join(out)


def lines(notification):
    """One logfmt line per alert of an Alertmanager webhook payload (version 4)."""
    out = []
    for alert in notification.get("alerts", []):
        labels, ann = alert.get("labels", {}), alert.get("annotations", {})
        pairs = [("ts", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
                 ("receiver", notification.get("receiver", "")), ("status", alert.get("status", ""))]
        pairs += [(k, labels[k]) for k in FIELDS if k in labels]
        pairs += [(k, ann[k]) for k in ("summary", "runbook_url") if k in ann]
        pairs.append(("starts_at", alert.get("startsAt", "")))
        out.append(logfmt(pairs))
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path != "/alerts":
            self._reply(404, "POST Alertmanager webhooks to /alerts\n")
            return
        try:
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        except ValueError:
            self._reply(400, "body is not JSON\n")
            return
        new = lines(payload)
        with LOCK:
            RECENT.extendleft(new)
        for line in new:
            print(line, flush=True)
        self._reply(200, "ok\n")

    def do_GET(self):
        if self.path == "/-/healthy":
            self._reply(200, "ok\n")
            return
        with LOCK:
            body = "\n".join(RECENT) or "no notification yet"
        self._reply(200, "Alertmanager notifications received, newest first:\n" + body + "\n")

    def _reply(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass  # one line per alert is the log; no access log


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="0.0.0.0:9099", help="host:port (default 0.0.0.0:9099)")
    host, port = ap.parse_args().listen.rsplit(":", 1)
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    # PID 1 in a container ignores an unhandled SIGTERM: `docker compose stop` would wait.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("alert-log listening on %s:%s; POST /alerts, GET /" % (host, port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
