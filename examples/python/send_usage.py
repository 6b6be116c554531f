"""Report each Anthropic API call to llm-cost-exporter (official `anthropic` SDK):
    msg = create(anthropic.Anthropic(), {"feature": "chat", "tenant": "acme"}, model=..., max_tokens=..., messages=[...])
    for event in stream(client, labels, model=..., ...): ...   # streaming
UDP fire-and-forget: a lost datagram loses one event; the app never waits on the exporter.
"""
import json, os, socket, time

import anthropic

EXPORTER = (os.environ.get("LLM_COST_EXPORTER_HOST", "127.0.0.1"), int(os.environ.get("LLM_COST_EXPORTER_PORT", "10430")))
_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
_sock.settimeout(0.05)  # bounded: a full send buffer can never stall a request

def _as_dict(usage):  # SDK objects are pydantic models
    return usage.model_dump(exclude_none=True) if hasattr(usage, "model_dump") else dict(usage or {})

def send_event(model, usage, start, labels, **extra):
    event = {"model": model, "usage": usage, "latency_ms": round((time.monotonic() - start) * 1000), "labels": labels}
    event.update({k: v for k, v in extra.items() if v is not None})
    try:
        _sock.sendto(json.dumps(event).encode(), EXPORTER)
    except OSError:
        pass  # metrics must never break the application

def _report_error(model, err, start, labels):
    body = getattr(err, "body", None)
    error_type = body.get("error", {}).get("type") if isinstance(body, dict) else None
    if isinstance(err, anthropic.APITimeoutError):
        error_type = "timeout_error"
    send_event(model, None, start, labels, status=getattr(err, "status_code", None), error_type=error_type or "connection_error")

def create(client, labels, **params):
    start = time.monotonic()
    try:
        msg = client.messages.create(**params)
    except anthropic.APIError as err:
        _report_error(params["model"], err, start, labels)
        raise
    send_event(msg.model, _as_dict(msg.usage), start, labels, status=200, stop_reason=msg.stop_reason, request_id=msg.id)
    return msg

def stream(client, labels, **params):
    """Yields the raw stream events. message_delta usage counts are CUMULATIVE: the last
    one overwrites message_start's fields one by one; never add them up."""
    start, usage, model, ttft = time.monotonic(), {}, params["model"], None
    try:
        for event in client.messages.create(stream=True, **params):
            if event.type == "message_start":
                usage, model = _as_dict(event.message.usage), event.message.model
            elif event.type == "content_block_delta" and ttft is None:
                ttft = round((time.monotonic() - start) * 1000)
            elif event.type == "message_delta":
                usage.update(_as_dict(event.usage))
            yield event
    except anthropic.APIError as err:
        _report_error(model, err, start, labels)
        raise
    send_event(model, usage, start, labels, status=200, ttft_ms=ttft)
