#!/bin/sh
# Send one usage event to llm-cost-exporter over HTTP (POST /v1/events). Usage:
#   send-event.sh [URL]     (default http://127.0.0.1:10430/v1/events)
# The exporter answers 202 with {"accepted":N,"rejected":M,"errors":[...]}, or 400
# when nothing was accepted; --fail-with-body makes curl exit non-zero on a 4xx/5xx.
# --max-time bounds the call: a monitoring side channel must never hang a job.
set -eu
url="${1:-http://127.0.0.1:10430/v1/events}"
curl --silent --show-error --fail-with-body --max-time 5 \
  -H 'Content-Type: application/json' \
  --data-binary @- "$url" <<'JSON'
{
  "model": "claude-sonnet-4-5-20250929",
  "usage": {"input_tokens": 1247, "output_tokens": 612,
            "cache_read_input_tokens": 28430, "cache_creation_input_tokens": 0,
            "server_tool_use": {"web_search_requests": 0}, "service_tier": "standard"},
  "latency_ms": 2300, "ttft_ms": 420, "status": 200,
  "labels": {"feature": "chat", "tenant": "acme", "route": "/api/chat"}
}
JSON
echo
