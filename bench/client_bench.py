#!/usr/bin/python3
"""What reporting one event costs a Python application, against the real exporter:
  - UDP: json.dumps(event) + socket.sendto, as examples/python/send_usage.py does;
  - HTTP: json.dumps(event) + a synchronous keep-alive POST (http.client), waiting
    for the 202.
Prints JSON: microseconds per event, the median over --runs runs of --events events.

  bench/client_bench.py --target 127.0.0.1:10430 --events 20000 --runs 3
"""
import argparse
import http.client
import itertools
import json
import random
import socket
import statistics
import time

# The shape send_usage.py builds from an SDK Message (usage.model_dump()).
EVENT = {"model": "claude-sonnet-4-5-20250929",
         "usage": {"input_tokens": 1247, "output_tokens": 612, "cache_read_input_tokens": 28430,
                   "cache_creation_input_tokens": 0,
                   "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                   "service_tier": "standard"},
         "latency_ms": 2300, "labels": {"feature": "chat", "tenant": "acme", "route": "/api/chat"},
         "status": 200, "stop_reason": "end_turn", "request_id": "msg_01XFDUDYJgAACzvnptvVoYEL"}


SEQ = itertools.count(random.getrandbits(32) << 6)  # unique across runs and processes


def next_event():
    # A fresh request_id per call, as from a real response: the exporter does not
    # count an id twice.
    return dict(EVENT, request_id="msg_01XFDUDYJgAACzvnptvVo%012d" % next(SEQ))


def udp_run(addr, events, deadline):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.05)  # as the example: a full buffer never stalls the caller for long
    errors, n = 0, 0
    t0 = time.perf_counter()
    for n in range(1, events + 1):
        try:
            sock.sendto(json.dumps(next_event()).encode(), addr)
        except OSError:
            errors += 1
        if n % 1000 == 0 and time.monotonic() > deadline:
            break
    elapsed = time.perf_counter() - t0
    sock.close()
    return elapsed / n * 1e6, errors


def http_run(addr, events, deadline):
    conn = http.client.HTTPConnection(addr[0], addr[1], timeout=10)
    failures, n = 0, 0
    t0 = time.perf_counter()
    for n in range(1, events + 1):
        conn.request("POST", "/v1/events", json.dumps(next_event()), {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 202:
            failures += 1
        if n % 100 == 0 and time.monotonic() > deadline:
            break
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed / n * 1e6, failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True, help="exporter ingest HOST:PORT (UDP and HTTP)")
    ap.add_argument("--events", type=int, default=20000, help="UDP events per run (HTTP: a tenth)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=20, help="bound on each run")
    args = ap.parse_args()
    host, port = args.target.rsplit(":", 1)
    addr = (host, int(port))
    udp, http_ = [], []
    udp_errors = http_failures = 0
    for _ in range(max(1, args.runs)):
        us, e = udp_run(addr, args.events, time.monotonic() + args.max_seconds)
        udp.append(us)
        udp_errors += e
        us, f = http_run(addr, max(1, args.events // 10), time.monotonic() + args.max_seconds)
        http_.append(us)
        http_failures += f
    print(json.dumps({"udp_us": statistics.median(udp), "http_us": statistics.median(http_),
                      "udp_runs_us": udp, "http_runs_us": http_, "udp_send_errors": udp_errors,
                      "http_failures": http_failures}))


if __name__ == "__main__":
    main()
