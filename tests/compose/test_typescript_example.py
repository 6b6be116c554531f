"""examples/typescript with the real @anthropic-ai/sdk (npm ci from the lock file)
against a local fake Anthropic endpoint (baseURL) and the real exporter: both the
plain and the streamed call must be counted with the right tokens."""
import http.server
import json
import os
import shutil
import threading

from harness import SOURCE_DIR, Exporter, by_label, fail, run_bounded, total

EXAMPLE = os.path.join(SOURCE_DIR, "examples", "typescript")
MODEL = "claude-sonnet-4-6"
requests_seen = []


class FakeAnthropic(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        # The SDK sends the key as x-api-key or as an Authorization bearer, by version.
        key = self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer ")
        requests_seen.append((self.path, key, bool(body.get("stream"))))
        if self.path != "/v1/messages":
            self.send_error(404)
            return
        if not body.get("stream"):
            self._send("application/json", json.dumps({
                "id": "msg_plain", "type": "message", "role": "assistant", "model": MODEL,
                "content": [{"type": "text", "text": "Hello."}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 20, "cache_read_input_tokens": 300,
                          "cache_creation_input_tokens": 0}}).encode())
            return
        events = [
            ("message_start", {"type": "message_start", "message": {
                "id": "msg_stream", "type": "message", "role": "assistant", "model": MODEL, "content": [],
                "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 30, "output_tokens": 1, "cache_read_input_tokens": 0,
                          "cache_creation_input_tokens": 400}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            # Cumulative: the final output is 77, not 1 + 40 + 77.
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": None}, "usage": {"output_tokens": 40}}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": 77}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        self._send("text/event-stream", "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events).encode())

    def _send(self, ctype, payload):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("request-id", "req_test")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


npm = shutil.which("npm")
if not npm:
    fail("npm not found (Debian packages nodejs + npm)")
env = dict(os.environ, npm_config_audit="false", npm_config_fund="false", npm_config_update_notifier="false")
res = run_bounded([npm, "ci", "--no-audit", "--no-fund"], 300, cwd=EXAMPLE, env=env)
if res.returncode != 0:
    fail(f"npm ci failed: {res.stderr[-2000:]}")
res = run_bounded([os.path.join(EXAMPLE, "node_modules", ".bin", "tsc"), "-p", "."], 180, cwd=EXAMPLE)
if res.returncode != 0:
    fail(f"tsc failed: {res.stdout[-2000:]} {res.stderr[-2000:]}")

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeAnthropic)
threading.Thread(target=server.serve_forever, daemon=True).start()
try:
    with Exporter() as ex:
        env = dict(os.environ, ANTHROPIC_BASE_URL=f"http://127.0.0.1:{server.server_port}", ANTHROPIC_API_KEY="test-key",
                   LLM_COST_EXPORTER_HOST="127.0.0.1", LLM_COST_EXPORTER_PORT=str(ex.ingest_port))
        res = run_bounded(["node", os.path.join(EXAMPLE, "dist", "demo.js")], 60, cwd=EXAMPLE, env=env)
        if res.returncode != 0:
            fail(f"example exited {res.returncode}: {res.stdout[-2000:]} {res.stderr[-2000:]}")
        if sorted(requests_seen) != [("/v1/messages", "test-key", False), ("/v1/messages", "test-key", True)]:
            fail(f"fake Anthropic saw {requests_seen}")
        m = ex.scrape_until(lambda m: total(m, "llm_requests_total", feature="ts-example") >= 2)
        if total(m, "llm_requests_total", feature="ts-example", model="claude-sonnet-4-6", status="ok") != 2:
            fail("exporter did not count both calls: " + str(by_label(m, "llm_requests_total", "feature")))
        tokens = {k: int(v) for k, v in by_label(m, "llm_tokens_total", "token_type", feature="ts-example").items()}
        want = {"input": 42, "output": 97, "cache_read": 300, "cache_write_5m": 400}
        if tokens != want:
            fail(f"tokens {tokens} != {want} (stream usage must be message_start overwritten by the last message_delta)")
        if total(m, "llm_time_to_first_token_seconds_count", feature="ts-example") != 1:
            fail("streamed call did not report ttft_ms")
finally:
    server.shutdown()
print("ok: typescript example")
