"""A fake Anthropic Messages API (POST /v1/messages) on 127.0.0.1 for the client
example tests, following Anthropic's documented behaviour: a plain call answers a
Message; `"stream": true` answers server-sent events message_start (Message with
empty content and the input usage), ping, content_block_start/_delta/_stop,
message_delta whose usage counts are CUMULATIVE, message_stop; errors are an HTTP
status with {"type": "error", "error": {"type", "message"}}, or, once a stream has
started, an `event: error` with that body. Standard library only.

The scenario is the first path segment of the base URL the client is given
(http://127.0.0.1:PORT/<scenario>, so the SDK posts /<scenario>/v1/messages):
  ok          Message / the complete stream below
  http_429    429 rate_limit_error           http_529  529 overloaded_error
  sse_error   stream: message_start, one text delta, then event: error overloaded_error
  cut         stream: message_start, one text delta, then the response just ends
  long        stream: message_start, then 200 text deltas 20 ms apart (callers stop early)
Usage figures are the constants below, so tests compute expectations from them."""
import http.server
import json
import threading
import time

MODEL = "claude-sonnet-4-6"
PLAIN_ID = "msg_fake_plain"  # a stream's message id is stream_id(scenario)
PLAIN_USAGE = {"input_tokens": 12, "output_tokens": 20, "cache_read_input_tokens": 300,
               "cache_creation_input_tokens": 0}
START_USAGE = {"input_tokens": 30, "output_tokens": 1, "cache_read_input_tokens": 0,
               "cache_creation_input_tokens": 400}
DELTA_OUTPUTS = (40, 77)  # cumulative: the final output is 77, not 1 + 40 + 77
ERRORS = {"http_429": (429, "rate_limit_error"), "http_529": (529, "overloaded_error")}


def stream_id(scenario, n):
    """The stream's message id: fixed for "ok" (tests send it twice to see the retry
    de-duplicated), unique per request (n) otherwise."""
    return "msg_fake_stream_ok" if scenario == "ok" else "msg_fake_stream_%s_%d" % (scenario, n)


def _sse(event, data):
    return ("event: %s\ndata: %s\n\n" % (event, json.dumps(data))).encode()


def _start(msg_id):
    return _sse("message_start", {"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "model": MODEL, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": dict(START_USAGE)}})


def _text(text):
    return _sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                        "delta": {"type": "text_delta", "text": text}})


BLOCK_START = _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}})
PING = _sse("ping", {"type": "ping"})


def _finish():
    out = _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
    for i, n in enumerate(DELTA_OUTPUTS):
        last = i == len(DELTA_OUTPUTS) - 1
        out += _sse("message_delta", {"type": "message_delta",
                                      "delta": {"stop_reason": "end_turn" if last else None, "stop_sequence": None},
                                      "usage": {"output_tokens": n}})
    return out + _sse("message_stop", {"type": "message_stop"})


class FakeMessagesAPI:
    """Serves until close(); `requests` lists (scenario, stream, api_key) per call."""

    def __init__(self):
        self.requests = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                scenario, _, rest = self.path.strip("/").partition("/")
                rest = rest.split("?", 1)[0]  # Claude Code posts /v1/messages?beta=true
                key = self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer ")
                api.requests.append((scenario, bool(body.get("stream")), key))
                if rest != "v1/messages":
                    return self._reply(404, "application/json", b'{"type":"error","error":{"type":"not_found_error"}}')
                if scenario in ERRORS:
                    status, etype = ERRORS[scenario]
                    return self._reply(status, "application/json", json.dumps(
                        {"type": "error", "error": {"type": etype, "message": etype}}).encode())
                if not body.get("stream"):
                    return self._reply(200, "application/json", json.dumps({
                        "id": PLAIN_ID, "type": "message", "role": "assistant", "model": MODEL,
                        "content": [{"type": "text", "text": "Hello."}], "stop_reason": "end_turn",
                        "stop_sequence": None, "usage": dict(PLAIN_USAGE)}).encode())
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")  # no Content-Length: the stream ends with the connection
                self.send_header("request-id", "req_fake")
                self.end_headers()
                try:
                    self._stream(scenario)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading
                self.close_connection = True

            def _stream(self, scenario):
                w = self.wfile
                w.write(_start(stream_id(scenario, len(api.requests))) + PING + BLOCK_START + _text("Hel"))
                w.flush()
                if scenario == "sse_error":
                    w.write(_sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
                elif scenario == "long":
                    for _ in range(200):
                        time.sleep(0.02)
                        w.write(_text("lo"))
                        w.flush()
                    w.write(_finish())
                elif scenario != "cut":
                    w.write(_text("lo") + _finish())
                w.flush()

            def _reply(self, status, ctype, payload):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("request-id", "req_fake")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def base_url(self, scenario):
        return "%s/%s" % (self.url, scenario)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
