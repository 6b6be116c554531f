"""An HTTP server on 127.0.0.1 that records every request body it receives, for
Alertmanager's receivers in tests (webhook, PagerDuty, Slack). Standard library."""
import http.server as http_server
import json
import threading
import time

from ports import free_port


class Recorder:
    """Stores every POST as {"received_unix", "received_mono", "path", "body"} (body
    decoded from JSON when it is JSON), in `records` and, when `path` is given, as a
    JSON line in that file. Answers 202 to /pagerduty* (as PagerDuty's Events API
    does) and 200 to everything else."""

    def __init__(self, path=None, port=0):
        self.path = path
        self.records = []
        self.cond = threading.Condition()
        self.file = open(path, "a", buffering=1) if path else None
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
                    if rec.file is not None:
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

    def received(self):
        """[(path, body)] of every request so far, in arrival order."""
        with self.cond:
            return [(r["path"], r["body"]) for r in self.records]

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
        if self.file is not None:
            self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
