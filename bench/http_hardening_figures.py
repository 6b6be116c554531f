#!/usr/bin/env python3
"""Before/after figures for docs/reliability.md ("Slow clients", "Request size"):
runs the hostile-client scenarios of tests/integration/http_hardening_test.py
against one binary and prints what it measured (latencies, peak RSS).
  python3 bench/http_hardening_figures.py build/exporter/llm-cost-exporter
"""
import base64
import os
import socket
import subprocess
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("SOURCE_DIR", os.path.join(HERE, ".."))
os.environ.setdefault("EXPORTER_BINARY", sys.argv[1] if len(sys.argv) > 1 else "")
from exporter_process import Exporter  # noqa: E402
from http_client import http  # noqa: E402
from http_hardening_test import Holder, peak_rss_bytes, rss_bytes, timed, EVENT, MiB  # noqa: E402

BINARY = os.path.abspath(sys.argv[1])
PRICES = os.path.join(HERE, "..", "exporter", "pricing", "prices.yml")


def exporter(*extra, **kw):
    return Exporter(BINARY, PRICES, extra_args=["--log.level=error"] + list(extra)).start(**kw)


def worst(results):
    ok = [s for st, s in results if st in (200, 202)]
    bad = [st for st, _ in results if st not in (200, 202, 429)]
    return "max %.3fs over %d, %d failed (%s)" % (max(s for _, s in results), len(results), len(bad), sorted(set(map(str, bad)))[:2]) if results else "-"


def slow(idle, trickle, port_of, target, body=False):
    e = exporter()
    try:
        try:
            h = Holder(port_of(e), idle=idle, slow=trickle, body=body)
        except OSError as err:
            return "could not open %d connections: %r" % (idle + trickle, err)
        try:
            time.sleep(0.5)
            res = [timed(*target(e), timeout=5) for _ in range(10)]
        finally:
            h.stop()
        return worst(res)
    finally:
        e.close()


def main():
    print("binary:", BINARY)
    web = lambda e: e.web_port  # noqa: E731
    ing = lambda e: e.ingest_port  # noqa: E731
    metrics = lambda e: ("GET", e.web + "/metrics")  # noqa: E731
    post = lambda e: ("POST", e.ingest + "/v1/events", EVENT)  # noqa: E731
    print("4 trickling header clients, /metrics:", slow(0, 4, web, metrics))
    print("1000 slow+idle (500/500) on web, /metrics:", slow(500, 500, web, metrics))
    print("1000 slow+idle (500/500) uploads on ingest, fast POST:", slow(500, 500, ing, post, body=True))

    e = exporter("--web.enable-lifecycle")
    try:
        base = peak_rss_bytes(e.proc.pid)
        sent = 0
        with socket.create_connection(("127.0.0.1", e.web_port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\n")
            try:
                while sent < 42 * MiB:
                    s.sendall(b"X-F: " + b"a" * 1000 + b"\r\n")
                    sent += 1007
            except OSError:
                pass
        time.sleep(0.3)
        print("42 MB header flood: server read %.2f MiB before refusing; peak RSS +%.0f MiB, RSS after %.0f MiB"
              % (sent / MiB, (peak_rss_bytes(e.proc.pid) - base) / MiB, rss_bytes(e.proc.pid) / MiB))
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        bomb = c.compress(b"\0" * (256 * MiB)) + c.flush()
        base = peak_rss_bytes(e.proc.pid)
        t = time.monotonic()
        sts = [http("POST", e.web + "/-/reload", bomb, {"Content-Encoding": "gzip"}, timeout=60)[0] for _ in range(3)]
        print("3 gzip bombs (%d KiB -> 256 MiB) to /-/reload: %s in %.2fs; peak RSS +%.0f MiB"
              % (len(bomb) // 1024, sts, time.monotonic() - t, (peak_rss_bytes(e.proc.pid) - base) / MiB))
    finally:
        e.close()

    e = exporter()
    try:
        body = "[" + ",".join(["0"] * (2 * MiB - 1)) + "]"
        before = rss_bytes(e.proc.pid)
        t = time.monotonic()
        sts = [http("POST", e.ingest + "/v1/events", body, timeout=120)[0] for _ in range(4)]
        time.sleep(0.5)
        print("4 x 4 MiB [0,0,...] bodies: %s in %.1fs; RSS %.0f -> %.0f MiB after, peak %.0f MiB"
              % (sts, time.monotonic() - t, before / MiB, rss_bytes(e.proc.pid) / MiB, peak_rss_bytes(e.proc.pid) / MiB))
    finally:
        e.close()

    out = subprocess.run(["htpasswd", "-nbB", "-C", "10", "prom", "right-pw"], capture_output=True, check=True)
    cfg = "/tmp/llm-http-figures-web.yml"
    with open(cfg, "w") as f:
        f.write("basic_auth_users:\n  prom: '%s'\n" % out.stdout.decode().strip().split(":", 1)[1])
    good = {"Authorization": "Basic " + base64.b64encode(b"prom:right-pw").decode()}
    e = exporter("--web.config.file=" + cfg, headers=good)
    try:
        stop = threading.Event()

        def attack(i):
            bad = {"Authorization": "Basic " + base64.b64encode(b"prom:wrong-%d" % i).decode()}
            while not stop.is_set():
                try:
                    http("GET", e.web + "/metrics", headers=bad, timeout=10)
                except OSError:
                    pass

        ts = [threading.Thread(target=attack, args=(i,), daemon=True) for i in range(64)]
        for t in ts:
            t.start()
        time.sleep(1)
        res = [timed("GET", e.web + "/metrics", headers=good, timeout=10) for _ in range(10)]
        stop.set()
        for t in ts:
            t.join(timeout=30)
        print("64 wrong-password clients, remembered login:", worst(res))
    finally:
        e.close()
        os.unlink(cfg)


if __name__ == "__main__":
    main()
