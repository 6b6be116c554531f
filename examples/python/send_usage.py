"""Report each Anthropic API call to llm-cost-exporter (official `anthropic` SDK), over UDP:
    msg = create(anthropic.Anthropic(), {"feature": "chat", "tenant": "acme"}, model=..., max_tokens=..., messages=[...])
    for event in stream(client, labels, model=..., ...): ...  # a stream that fails, ends early or that
the caller stops (break; close() a kept generator) reports the usage seen so far. Never blocks the app."""
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
    try: _sock.sendto(json.dumps(event).encode(), EXPORTER)
    except OSError: pass  # metrics must never break the application

def _error_fields(err):  # an error event inside a stream has the stream's HTTP status, 200
    body = getattr(err, "body", None)
    error_type = body.get("error", {}).get("type") if isinstance(body, dict) else None
    error_type = "timeout_error" if isinstance(err, anthropic.APITimeoutError) else error_type
    return {"status": getattr(err, "status_code", None), "error_type": error_type or "connection_error"}

def create(client, labels, **params):
    start = time.monotonic()
    try:
        msg = client.messages.create(**params)
    except Exception as err:
        send_event(params["model"], None, start, labels, **_error_fields(err))
        raise
    send_event(msg.model, _as_dict(msg.usage), start, labels, status=200, stop_reason=msg.stop_reason, request_id=msg.id)
    return msg

def stream(client, labels, **params):
    """Yields the raw stream events. message_delta usage counts are CUMULATIVE: the last
    one overwrites message_start's fields one by one; never add them up."""
    start, usage, model, extra, last = time.monotonic(), {}, params["model"], {"status": 200}, None
    try:
        with client.messages.create(stream=True, **params) as events:  # closed when the caller stops
            for event in events:
                last = event.type
                if event.type == "message_start":
                    usage, model, extra["request_id"] = _as_dict(event.message.usage), event.message.model, event.message.id
                elif event.type == "content_block_delta" and "ttft_ms" not in extra:
                    extra["ttft_ms"] = round((time.monotonic() - start) * 1000)
                elif event.type == "message_delta":
                    usage.update(_as_dict(event.usage)); extra["stop_reason"] = event.delta.stop_reason
                yield event
        if last != "message_stop":
            extra["error_type"] = "connection_error"  # the stream ended early
    except Exception as err:
        extra.update(_error_fields(err))
        raise
    finally:  # also GeneratorExit: the caller stopped early
        send_event(model, usage or None, start, labels, **extra)
