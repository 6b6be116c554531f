"""Circuit breakers on llm-cost-exporter's budgets (docs/budgets.md), beside send_usage.py:
    guard = BudgetGuard("feature:chat")                # fail open; fail_closed=True for hard caps
    msg = guarded_create(client, guard, labels, model=..., max_tokens=..., messages=[...])
    for event in capped_stream(client, guard, labels, cap_usd=0.50, model=..., ...): ...
guarded_create raises BudgetExceeded instead of calling the API once the scope's state is
`exceeded`. capped_stream prices the running stream with the exporter's own rates
(GET /v1/prices/<model>) and stops it, raising StreamCapExceeded, once it passes cap_usd;
send_usage.stream then reports the usage seen so far as the event."""
import json, os, sys, time, urllib.error, urllib.parse, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import send_usage  # noqa: E402

EXPORTER_URL = os.environ.get("LLM_COST_EXPORTER_URL", "http://127.0.0.1:10430")
TOKEN = os.environ.get("LLM_COST_EXPORTER_TOKEN")  # --web.ingest-token-file's token, if set
# Message usage fields -> the exporter's token types (the price table's names).
TOKEN_TYPES = {"input_tokens": "input", "output_tokens": "output", "cache_read_input_tokens": "cache_read",
               "cache_creation_input_tokens": "cache_write_5m"}

class BudgetExceeded(Exception):
    pass

class StreamCapExceeded(BudgetExceeded):
    pass

def _get(path, etag=None, timeout=0.5):
    req = urllib.request.Request(EXPORTER_URL + path)
    if TOKEN: req.add_header("Authorization", "Bearer " + TOKEN)
    if etag: req.add_header("If-None-Match", etag)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("ETag"), json.load(r)
    except urllib.error.HTTPError as e:
        if e.code == 304: return 304, etag, None
        raise

class BudgetGuard:
    """The state of one scope, cached for max_age seconds and revalidated with its ETag."""
    def __init__(self, scope, fail_closed=False, max_age=5.0):
        self.scope, self.fail_closed, self.max_age = scope, fail_closed, max_age
        self._until, self._etag, self._answer = 0.0, None, None

    def check(self):
        if time.monotonic() >= self._until:
            try:
                status, self._etag, answer = _get("/v1/budgets/" + urllib.parse.quote(self.scope, safe=":"), self._etag)
                self._answer = answer if status == 200 else self._answer
            except Exception as err:  # unreachable, 401, 404 (a scope without a budget)
                if self.fail_closed: raise BudgetExceeded(f"{self.scope}: budget state unknown ({err})") from err
                return  # fail open: the exporter must never take the application down
            self._until = time.monotonic() + self.max_age
        if self._answer and self._answer["state"] == "exceeded":
            raise BudgetExceeded(f"{self.scope}: budget exceeded; not calling the API")

_rates = {}
def pusd_per_token(model):
    """The exporter's rates for `model` (resolved as it resolves ids), in pico-USD per token."""
    if model not in _rates:
        _rates[model] = _get("/v1/prices/" + urllib.parse.quote(model, safe=""), timeout=2)[2]["price"]["current"]["pusd_per_token"]
    return _rates[model]

def cost_usd(usage, rates):
    return sum(usage.get(k, 0) * (rates.get(t) or 0) for k, t in TOKEN_TYPES.items()) / 1e12

def guarded_create(client, guard, labels, **params):
    guard.check()
    return send_usage.create(client, labels, **params)

def capped_stream(client, guard, labels, cap_usd, **params):
    """Output tokens arrive only in message_delta (cumulative), so between them each text delta
    counts as one output token: a lower bound, only used to decide when to stop."""
    guard.check()
    rates, usage, deltas = pusd_per_token(params["model"]), {}, 0
    events = send_usage.stream(client, labels, **params)
    try:
        for event in events:
            if event.type == "message_start": usage = send_usage._as_dict(event.message.usage)
            elif event.type == "content_block_delta": deltas += 1
            elif event.type == "message_delta": usage.update(send_usage._as_dict(event.usage))
            running = cost_usd(dict(usage, output_tokens=max(usage.get("output_tokens", 0), deltas)), rates)
            if running > cap_usd:
                raise StreamCapExceeded(f"stream stopped at ${running:.6f}, cap ${cap_usd}")
            yield event
    finally:
        events.close()  # send_usage.stream reports the usage seen so far, now
