"""examples/python/send_usage.py against the real exporter over UDP. The `anthropic`
package cannot be installed here (no PyPI), so a minimal stand-in provides the
SDK's exception classes and response shapes (objects with model_dump())."""
import importlib.util
import os
import sys
import time
import types

from harness import SOURCE_DIR, Exporter, by_label, fail, total


class Obj:
    """Stand-in for the SDK's pydantic models: attributes plus model_dump()."""
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def model_dump(self, exclude_none=False):
        return {k: (v.model_dump(exclude_none) if isinstance(v, Obj) else v)
                for k, v in self.__dict__.items() if not (exclude_none and v is None)}


stub = types.ModuleType("anthropic")
class APIError(Exception):
    def __init__(self, message="", body=None):
        super().__init__(message)
        self.body = body
class APIStatusError(APIError):
    def __init__(self, status_code, body):
        super().__init__(f"HTTP {status_code}", body)
        self.status_code = status_code
class APITimeoutError(APIError):
    pass
stub.APIError, stub.APIStatusError, stub.APITimeoutError = APIError, APIStatusError, APITimeoutError
sys.modules["anthropic"] = stub

MODEL = "claude-sonnet-4-5-20250929"


class FakeMessages:
    def create(self, stream=False, **params):
        if params.get("metadata") == "fail":
            raise APIStatusError(429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
        if not stream:
            return Obj(id="msg_1", model=MODEL, stop_reason="end_turn",
                       usage=Obj(input_tokens=100, output_tokens=50, cache_read_input_tokens=1000,
                                 cache_creation_input_tokens=200, service_tier="standard",
                                 cache_creation=Obj(ephemeral_5m_input_tokens=200, ephemeral_1h_input_tokens=0)))
        def events():
            yield Obj(type="message_start", message=Obj(model=MODEL, usage=Obj(
                input_tokens=30, output_tokens=1, cache_read_input_tokens=500, cache_creation_input_tokens=0)))
            for _ in range(3):
                yield Obj(type="content_block_delta", delta=Obj(type="text_delta", text="hi"))
            # Cumulative counts: the final output is 77, not 1 + 40 + 77.
            yield Obj(type="message_delta", usage=Obj(output_tokens=40, input_tokens=None))
            yield Obj(type="message_delta", usage=Obj(output_tokens=77, input_tokens=None))
            yield Obj(type="message_stop")
        return events()


client = Obj(messages=FakeMessages())

with Exporter() as ex:
    os.environ["LLM_COST_EXPORTER_HOST"] = "127.0.0.1"
    os.environ["LLM_COST_EXPORTER_PORT"] = str(ex.ingest_port)
    spec = importlib.util.spec_from_file_location("send_usage", os.path.join(SOURCE_DIR, "examples/python/send_usage.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    msg = mod.create(client, {"feature": "py-create", "tenant": "acme"}, model=MODEL, max_tokens=10, messages=[])
    if msg.id != "msg_1":
        fail("create() did not return the SDK's message")
    n = sum(1 for _ in mod.stream(client, {"feature": "py-stream", "tenant": "acme"}, model=MODEL, max_tokens=10, messages=[]))
    if n != 7:
        fail(f"stream() yielded {n} events, expected 7")
    try:
        mod.create(client, {"feature": "py-error", "tenant": "acme"}, model=MODEL, metadata="fail", messages=[])
        fail("create() swallowed the API error")
    except APIStatusError:
        pass

    m = ex.scrape_until(lambda m: total(m, "llm_requests_total") >= 3)
    want = {
        "py-create": {"input": 100, "output": 50, "cache_read": 1000, "cache_write_5m": 200},
        "py-stream": {"input": 30, "output": 77, "cache_read": 500},
        "py-error": {},
    }
    for feature, tokens in want.items():
        got = {k: int(v) for k, v in by_label(m, "llm_tokens_total", "token_type", feature=feature).items()}
        if got != tokens:
            fail(f"{feature}: tokens {got} != {tokens}")
    if total(m, "llm_requests_total", feature="py-error", status="rate_limited") != 1:
        fail("the 429 was not counted as rate_limited: " + str(by_label(m, "llm_requests_total", "status")))
    if total(m, "llm_requests_total", status="ok") != 2:
        fail("expected 2 ok requests")
    if total(m, "llm_time_to_first_token_seconds_count", feature="py-stream") != 1:
        fail("stream() did not report ttft_ms")

    # Nobody listening: sending must neither raise nor stall the application.
    mod.EXPORTER = ("127.0.0.1", 9)
    t0 = time.monotonic()
    for _ in range(200):
        mod.create(client, {"feature": "py-create", "tenant": "acme"}, model=MODEL, max_tokens=10, messages=[])
    if time.monotonic() - t0 > 2:
        fail("sending to an absent exporter slowed the application down")
print("ok: python example")
