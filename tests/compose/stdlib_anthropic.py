"""A stand-in for the official `anthropic` Python SDK, on the standard library, for
testing examples/python/send_usage.py where the SDK cannot be installed (no PyPI;
Debian bookworm has no python3-anthropic). It speaks real HTTP and server-sent
events to a Messages API (tests/lib/fake_messages_api.py) and reproduces what the
example relies on from the SDK:
- client.messages.create(**params) -> Message (attributes + model_dump(exclude_none));
  stream=True -> a Stream: iterable over events with .type, a context manager, close();
- an HTTP error status raises APIStatusError (status_code, body = the error JSON);
- an `event: error` inside a stream raises APIStatusError with the stream response's
  status (200) and that event's body, as the SDK's Stream does; `ping` is skipped;
- connection failures raise APIConnectionError, timeouts APITimeoutError (a subclass);
- a stream whose body just ends stops iterating without an error."""
import json
import socket
import urllib.error
import urllib.request


class AnthropicError(Exception):
    pass


class APIError(AnthropicError):
    def __init__(self, message, body=None):
        super().__init__(message)
        self.body = body


class APIStatusError(APIError):
    def __init__(self, message, status_code, body):
        super().__init__(message, body)
        self.status_code = status_code


class APIConnectionError(APIError):
    pass


class APITimeoutError(APIConnectionError):
    pass


class Model:
    """Attributes from a JSON object, nested; model_dump() like pydantic's."""

    def __init__(self, data):
        self._data = data
        for k, v in data.items():
            setattr(self, k, Model(v) if isinstance(v, dict) else v)

    def model_dump(self, exclude_none=False):
        return {k: v for k, v in self._data.items() if not (exclude_none and v is None)}


class Stream:
    def __init__(self, response):
        self.response = response

    def __iter__(self):
        event, data = None, []
        for raw in self.response:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and event:
                body = json.loads("\n".join(data)) if data else None
                if event == "error":
                    raise APIStatusError("stream error", self.response.status, body)
                if event != "ping":
                    yield Model(body)
                event, data = None, []

    def close(self):
        self.response.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Messages:
    def __init__(self, client):
        self.client = client

    def create(self, stream=False, **params):
        body = json.dumps(dict(params, stream=stream)).encode()
        req = urllib.request.Request(self.client.base_url + "/v1/messages", data=body, method="POST", headers={
            "x-api-key": self.client.api_key, "content-type": "application/json", "anthropic-version": "2023-06-01"})
        try:
            response = urllib.request.urlopen(req, timeout=self.client.timeout)
        except urllib.error.HTTPError as e:
            raise APIStatusError("HTTP %d" % e.code, e.code, json.loads(e.read() or b"null")) from None
        except (socket.timeout, TimeoutError) as e:
            raise APITimeoutError(str(e)) from None
        except OSError as e:
            raise APIConnectionError(str(e)) from None
        if stream:
            return Stream(response)
        with response:
            return Model(json.loads(response.read()))


class Anthropic:
    def __init__(self, api_key="test-key", base_url="https://api.anthropic.com", timeout=10):
        self.api_key, self.base_url, self.timeout = api_key, base_url.rstrip("/"), timeout
        self.messages = Messages(self)
