"""A fake Anthropic Admin API for billing reads, on 127.0.0.1, written from the
documented request and response shapes (docs/reconciliation.md, "API fields",
lists the pages), not from the exporter's code. Standard library only.

Endpoints:
  GET /v1/organizations/analytics/cost            (beta: anthropic-beta analytics-usage-cost-2026-08-24)
      starting_at, ending_at (RFC 3339), time_bucket_width 1d|1h|1m, group_by[], page
      -> {"data": [{"starting_at", "ending_at", "group": {"model": ..}, "cost": {"amount", "currency",
          "list_amount", "requests"}}], "has_more", "next_page"}
  GET /v1/organizations/cost_report               (legacy; daily buckets only)
      starting_at, ending_at, bucket_width=1d, group_by[] (workspace_id, description), limit <= 31, page
      -> {"data": [{"starting_at", "ending_at", "results": [{"amount", "currency", "model", "cost_type",
          "token_type", "description", ...}]}], "has_more", "next_page"}
  GET /v1/organizations/usage_report/messages     (legacy)
      bucket_width 1m|1h|1d, group_by[] (api_key_id, workspace_id, model, ...), limit, page
      -> results with uncached_input_tokens, cache_read_input_tokens,
         cache_creation {ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}, output_tokens, model
Every request must carry x-api-key (the expected key) and anthropic-version
2023-06-01; otherwise 401 / 400 with the documented error envelope
{"type": "error", "error": {"type", "message"}}, and the violation is recorded.

Amounts are decimal strings in cents. Billed figures are set per hour
(set_cost(hour_start_unix, model, cents_text)); daily buckets are exact Decimal
sums of the hours. Test knobs: fail_next (a queue of "429" / "500" / "401"),
refuse_beta (the analytics endpoints answer 400 invalid_request_error: what a
refused beta looks like is not documented, see docs/reconciliation.md),
page_size (rows or buckets per page, to force pagination)."""
import base64
import calendar
import datetime
import http.server
import json
import threading
import urllib.parse
from decimal import Decimal

API_VERSION = "2023-06-01"
BETA = "analytics-usage-cost-2026-08-24"
DAY = 86400
HOUR = 3600


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text):
    text = text.replace("Z", "+00:00")
    return int(datetime.datetime.fromisoformat(text).timestamp())


class FakeAdminApi:
    def __init__(self, key, tls_cert=None):
        self.key = key
        self.lock = threading.Lock()
        self.cost = {}    # (hour_start, model) -> Decimal cents
        self.tokens = {}  # (hour_start, model) -> dict of token counts
        self.requests = []    # (path, query dict, headers dict)
        self.violations = []  # what a request got wrong, for the test to assert empty
        self.fail_next = []
        self.refuse_beta = False
        self.page_size = 2
        self.retry_after = "1"
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.scheme = "http"
        if tls_cert:  # (cert file, key file): HTTPS with that certificate
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls_cert)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.server.server_address[1])

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def set_cost(self, hour, model, cents):
        with self.lock:
            self.cost[(hour, model)] = Decimal(cents)

    def set_tokens(self, hour, model, **counts):
        with self.lock:
            self.tokens[(hour, model)] = counts

    def paths(self):
        with self.lock:
            return [r[0] for r in self.requests]

    # -- the documented shapes -------------------------------------------------

    def _buckets(self, start, end, width):
        step = {"1d": DAY, "1h": HOUR, "1m": 60}[width]
        t = start - start % step  # "snapped to the start of the minute/hour/day in UTC"
        while t < end:
            yield t, t + step
            t += step

    def _cost_by_model(self, b0, b1):
        out = {}
        for (hour, model), cents in self.cost.items():
            if b0 <= hour < b1:
                out[model] = out.get(model, Decimal(0)) + cents
        return out

    def _page(self, items, page):
        offset = int(base64.b64decode(page[5:]).decode()[5:]) if page else 0
        chunk = items[offset:offset + self.page_size]
        more = offset + self.page_size < len(items)
        token = ("page_" + base64.b64encode(("page_%d" % (offset + self.page_size)).encode()).decode()) if more else None
        return chunk, more, token

    def analytics_cost(self, q):
        start, end = parse_rfc3339(q["starting_at"]), parse_rfc3339(q["ending_at"])
        width = q.get("time_bucket_width", "1d")
        rows = []
        for b0, b1 in self._buckets(start, end, width):
            for model, cents in sorted(self._cost_by_model(b0, b1).items()):
                rows.append({"starting_at": rfc3339(b0), "ending_at": rfc3339(b1),
                             "group": {"model": model},
                             "cost": {"amount": format(cents, "f"), "currency": "USD",
                                      "list_amount": format(cents, "f"), "requests": 1}})
        return rows

    def legacy_buckets(self, q, tokens):
        start, end = parse_rfc3339(q["starting_at"]), parse_rfc3339(q.get("ending_at") or rfc3339(start + 7 * DAY))
        width = q.get("bucket_width", "1d")
        buckets = []
        for b0, b1 in self._buckets(start, end, width):
            results = []
            if tokens:
                sums = {}
                for (hour, model), counts in self.tokens.items():
                    if b0 <= hour < b1:
                        s = sums.setdefault(model, {})
                        for k, v in counts.items():
                            s[k] = s.get(k, 0) + v
                for model, s in sorted(sums.items()):
                    results.append({"uncached_input_tokens": s.get("input", 0),
                                    "cache_creation": {"ephemeral_1h_input_tokens": s.get("cache_write_1h", 0),
                                                       "ephemeral_5m_input_tokens": s.get("cache_write_5m", 0)},
                                    "cache_read_input_tokens": s.get("cache_read", 0),
                                    "output_tokens": s.get("output", 0),
                                    "server_tool_use": {"web_search_requests": 0},
                                    "api_key_id": None, "workspace_id": None, "model": model,
                                    "service_tier": None, "context_window": None})
            else:
                for model, cents in sorted(self._cost_by_model(b0, b1).items()):
                    # Grouped by description: one item per token type; split exactly.
                    first = (cents / 3).quantize(Decimal("0.00001"))
                    for token_type, amount in (("uncached_input_tokens", first), ("output_tokens", cents - first)):
                        results.append({"amount": format(amount, "f"), "currency": "USD",
                                        "description": "%s usage - %s" % (model, token_type),
                                        "cost_type": "tokens", "context_window": "0-200k", "model": model,
                                        "service_tier": "standard", "token_type": token_type,
                                        "workspace_id": None, "inference_geo": None})
            buckets.append({"starting_at": rfc3339(b0), "ending_at": rfc3339(b1), "results": results})
        return buckets

    # -- HTTP ------------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, status, doc, headers=()):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def error(self, status, type_, message, headers=()):
                self.send(status, {"type": "error", "error": {"type": type_, "message": message}}, headers)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                multi = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                q = {k: v[-1] for k, v in multi.items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake.lock:
                    fake.requests.append((url.path, multi, headers))
                    injected = fake.fail_next.pop(0) if fake.fail_next else None
                bad = fake.check(url.path, multi, headers)
                if bad is not None:
                    status, type_, message = bad
                    with fake.lock:
                        fake.violations.append("%s: %s" % (url.path, message))
                    return self.error(status, type_, message)
                if injected == "429":
                    return self.error(429, "rate_limit_error", "rate limited", [("retry-after", fake.retry_after)])
                if injected == "500":
                    return self.error(500, "api_error", "internal error")
                if injected == "401":
                    return self.error(401, "authentication_error", "invalid x-api-key")
                with fake.lock:
                    if url.path == "/v1/organizations/analytics/cost":
                        if fake.refuse_beta:
                            return self.error(400, "invalid_request_error", "beta not enabled for this organization")
                        items = fake.analytics_cost(q)
                    elif url.path == "/v1/organizations/cost_report":
                        items = fake.legacy_buckets(q, tokens=False)
                    elif url.path == "/v1/organizations/usage_report/messages":
                        items = fake.legacy_buckets(q, tokens=True)
                    else:
                        return self.error(404, "not_found_error", "no such endpoint")
                    chunk, more, token = fake._page(items, q.get("page"))
                self.send(200, {"data": chunk, "has_more": more, "next_page": token})

        return Handler

    def check(self, path, q, headers):
        """(status, error type, message) for a request that breaks the documented contract; None if fine."""
        if headers.get("x-api-key") != self.key:
            return 401, "authentication_error", "x-api-key missing or wrong"
        if headers.get("anthropic-version") != API_VERSION:
            return 400, "invalid_request_error", "anthropic-version must be %s" % API_VERSION
        if "starting_at" not in q:
            return 400, "invalid_request_error", "starting_at is required"
        for name in ("starting_at", "ending_at"):
            if name in q:
                try:
                    parse_rfc3339(q[name][-1])
                except ValueError:
                    return 400, "invalid_request_error", "%s is not RFC 3339" % name
        group_by = q.get("group_by[]", [])
        if path == "/v1/organizations/analytics/cost":
            if headers.get("anthropic-beta") != BETA:
                return 400, "invalid_request_error", "anthropic-beta %s required" % BETA
            if q.get("time_bucket_width", ["1d"])[-1] not in ("1d", "1h", "1m"):
                return 400, "invalid_request_error", "time_bucket_width"
            if "model" not in group_by:
                return 400, "invalid_request_error", "test expects group_by[]=model"
        elif path == "/v1/organizations/cost_report":
            if q.get("bucket_width", ["1d"])[-1] != "1d":
                return 400, "invalid_request_error", "cost_report bucket_width is 1d only"
            if any(g not in ("workspace_id", "description") for g in group_by):
                return 400, "invalid_request_error", "cost_report group_by[]: workspace_id, description"
            if "description" not in group_by:
                return 400, "invalid_request_error", "model is null unless grouped by description"
            if not 1 <= int(q.get("limit", ["7"])[-1]) <= 31:
                return 400, "invalid_request_error", "limit 1..31"
        elif path == "/v1/organizations/usage_report/messages":
            width = q.get("bucket_width", ["1d"])[-1]
            maxima = {"1d": 31, "1h": 168, "1m": 1440}
            if width not in maxima:
                return 400, "invalid_request_error", "bucket_width"
            if not 1 <= int(q.get("limit", ["1"])[-1]) <= maxima[width]:
                return 400, "invalid_request_error", "limit beyond the maximum for bucket_width"
            if "model" not in group_by:
                return 400, "invalid_request_error", "test expects group_by[]=model"
        return None
