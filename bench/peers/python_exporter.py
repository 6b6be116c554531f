#!/usr/bin/python3
"""Peer A of the benchmark: the LLM cost exporter a team would write in an afternoon
with Debian's python3-prometheus-client. UDP JSON in (one event per datagram),
Counter.labels(...).inc() for requests, tokens and cost, a latency Histogram, and
start_http_server for /metrics. Not part of the product; see docs/benchmarks.md.

  bench/peers/python_exporter.py --udp-port 9125 --http-port 9126
"""
import argparse
import json
import socket

from prometheus_client import Counter, Histogram, start_http_server

LABELS = ["provider", "model", "feature", "tenant", "route"]
# USD per million tokens, as the usual hand-written exporter hard-codes them.
PRICES = {"claude-sonnet-4-5-20250929": {"input": 3.0, "output": 15.0, "cache_read": 0.30,
                                          "cache_write_5m": 3.75}}
TOKEN_FIELDS = {"input": "input_tokens", "output": "output_tokens", "cache_read": "cache_read_input_tokens",
                "cache_write_5m": "cache_creation_input_tokens"}

REQUESTS = Counter("llm_requests", "LLM API requests.", LABELS + ["status"])
TOKENS = Counter("llm_tokens", "Tokens reported.", LABELS + ["token_type"])
COST = Counter("llm_cost_usd", "Cost in USD.", LABELS + ["cost_type"])
LATENCY = Histogram("llm_request_duration_seconds", "End-to-end latency.", LABELS,
                    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300))
REJECTED = Counter("llm_peer_events_rejected", "Events that could not be used, by reason.", ["reason"])


def record(event):
    labels = event.get("labels") or {}
    model = event["model"]
    scope = ("anthropic", model, labels.get("feature", ""), labels.get("tenant", ""), labels.get("route", ""))
    REQUESTS.labels(*scope, "ok" if event.get("status", 200) == 200 else "error").inc()
    usage = event.get("usage") or {}
    prices = PRICES.get(model, {})
    for token_type, field in TOKEN_FIELDS.items():
        n = usage.get(field, 0)
        TOKENS.labels(*scope, token_type).inc(n)
        COST.labels(*scope, token_type).inc(n * prices.get(token_type, 0.0) / 1e6)
    if "latency_ms" in event:
        LATENCY.labels(*scope).observe(event["latency_ms"] / 1000.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--udp-port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--rcvbuf", type=int, default=32 << 20, help="UDP receive buffer, as the C++ exporter gets")
    args = ap.parse_args()
    start_http_server(args.http_port, addr="127.0.0.1")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # SO_RCVBUFFORCE (33) passes net.core.rmem_max where allowed, like the C++ exporter
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), args.rcvbuf)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
    sock.bind(("127.0.0.1", args.udp_port))
    while True:
        data = sock.recv(65535)
        try:
            event = json.loads(data)
        except ValueError:
            REJECTED.labels("malformed_json").inc()
            continue
        if not isinstance(event, dict) or not isinstance(event.get("model"), str):
            REJECTED.labels("missing_model").inc()
            continue
        try:
            record(event)
        except (TypeError, ValueError, AttributeError):
            REJECTED.labels("bad_field").inc()


if __name__ == "__main__":
    main()
