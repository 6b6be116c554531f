#!/usr/bin/env python3
"""Writes the seed corpus in fuzz/corpus/ (checked in; rerun after editing).

events/: bodies and datagrams as clients send them (docs/metrics.md "The event"),
used by the event_parser and pipeline targets; price_table/ and exporter_config/:
the shipped YAML files and variants. Seeds are named for what they exercise.
Inputs found by the fuzzer that crashed once are kept here as regressions too.
"""
import gzip
import json
import os
import shutil

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(ROOT)
CORPUS = os.path.join(ROOT, "corpus")

USAGE = {"input_tokens": 1247, "output_tokens": 612, "cache_read_input_tokens": 28430,
         "cache_creation_input_tokens": 3000,
         "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
         "server_tool_use": {"web_search_requests": 2}, "service_tier": "standard"}
EVENT = {"model": "claude-sonnet-4-5-20250929", "usage": USAGE, "latency_ms": 2300, "ttft_ms": 420,
         "status": 200, "error_type": None, "stop_reason": "end_turn", "batch": False,
         "labels": {"feature": "chat", "tenant": "acme", "route": "/api/chat"},
         "request_id": "msg_01XFDUDYJgAACzvnptvVoYEL", "task_id": "conv-42"}


def j(v):
    return json.dumps(v, separators=(",", ":"))


def events():
    s = {}
    s["anthropic_usage_verbatim.json"] = json.dumps(EVENT, indent=2)
    s["anthropic_minimal.json"] = j({"model": "claude-haiku-4-5", "usage": {"input_tokens": 10, "output_tokens": 5}})
    s["flat_wrapper_fields.json"] = j({"model_id": "claude-opus-4-6", "input_tokens": 900, "output_tokens": 80,
                                       "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20,
                                       "feature": "search", "tenant_id": 42, "user_id": "u1", "route": "/r"})
    s["openai_chat_completions.json"] = j({"provider": "openai", "model": "gpt-4o", "usage": {
        "prompt_tokens": 1000, "completion_tokens": 200, "prompt_tokens_details": {"cached_tokens": 400}}})
    s["openai_responses.json"] = j({"provider": "openai", "model": "gpt-4.1", "usage": {
        "input_tokens": 1000, "output_tokens": 200, "input_tokens_details": {"cached_tokens": 300}},
        "cost_usd": 0.0123})
    s["bedrock_vertex_ids.ndjson"] = "\n".join(j({"model": m, "usage": {"input_tokens": 1, "output_tokens": 1}}) for m in (
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5@20250929",
        "anthropic.claude-3-haiku-20240307-v1:0", "CLAUDE-OPUS-4-6"))
    s["batch_us_fast_priority.ndjson"] = "\n".join(j(e) for e in (
        {"model": "claude-sonnet-4-5", "batch": True, "usage": {"input_tokens": 5}},
        {"model": "claude-opus-4-6", "usage": {"input_tokens": 5, "inference_geo": "us", "speed": "fast"}},
        {"model": "claude-sonnet-4-5", "service_tier": "priority", "usage": {"input_tokens": 5}},
        {"model": "claude-sonnet-4-5", "usage": {"input_tokens": 300000, "cache_read_input_tokens": 1}}))
    s["errors_statuses.ndjson"] = "\n".join(j({"model": "claude-haiku-4-5", "status": st, "error_type": et,
                                               "usage": {"input_tokens": 0, "output_tokens": 0}}) for st, et in (
        (429, "rate_limit_error"), (529, "overloaded_error"), (500, "api_error"), (400, "invalid_request_error"),
        ("timeout", None), ("ok", None), (200, None)))
    s["array_mixed.json"] = j([EVENT, {"model": "claude-haiku-4-5"}, 7, "x", None, [], {"usage": {}}])
    s["ndjson_with_bad_line.ndjson"] = j(EVENT) + "\n\n{\"model\":\n" + j({"model": "m"}) + "\r\n"
    s["pretty_multiline_object.json"] = json.dumps({"model": "claude-haiku-4-5", "usage": USAGE}, indent=4)
    s["empty.txt"] = ""
    s["whitespace.txt"] = " \t\r\n \n"
    s["truncated.json"] = j(EVENT)[:57]
    s["nan_infinity.ndjson"] = ('{"model":"m","latency_ms":NaN}\n{"model":"m","latency_ms":Infinity}\n'
                                '{"model":"m","cost_usd":-Infinity}')
    s["huge_numbers.ndjson"] = "\n".join((
        '{"model":"m","usage":{"input_tokens":18446744073709551615}}',
        '{"model":"m","usage":{"input_tokens":18446744073709551616}}',
        '{"model":"m","usage":{"input_tokens":1000000001}}',
        '{"model":"m","usage":{"input_tokens":1e300}}',
        '{"model":"m","usage":{"input_tokens":-1}}',
        '{"model":"m","usage":{"input_tokens":1.5}}',
        '{"model":"m","latency_ms":1e308,"ttft_ms":-0.0,"cost_usd":1e7}',
        '{"model":"m","usage":{"server_tool_use":{"web_search_requests":9007199254740993}}}'))
    s["wrong_types.ndjson"] = "\n".join((
        '{"model":5}', '{"model":""}', '{"model":"m","usage":[]}', '{"model":"m","labels":{"tenant":{"a":1}}}',
        '{"model":"m","labels":"x"}', '{"model":"m","batch":"yes"}', '{"model":"m","status":true}',
        '{"model":"m","usage":{"cache_creation":7}}', '{"model":"m","latency_ms":"12"}', '{}', '[]', '"s"'))
    s["deep_nesting.json"] = '{"model":"m","usage":' + "[" * 5000 + "]" * 5000 + "}"
    s["deep_nesting_unclosed.json"] = "[" * 10000
    s["invalid_utf8.json"] = b'{"model":"claude-\xff\xfe","labels":{"tenant":"\xc3\x28","feature":"\xed\xa0\x80"}}'
    s["utf8_and_escapes.json"] = j({"model": "claude-haiku-4-5", "labels": {
        "tenant": "t\u00e9nant-\u65e5\u672c-\U0001F600", "feature": "a\"b\\c\n\u0000d", "route": "x" * 200}})
    s["label_escape_quotes.json"] = '{"model":"m","labels":{"route":"\\ud800","tenant":"}\\"=,"}}'
    s["duplicate_keys.json"] = '{"model":"a","model":"claude-haiku-4-5","usage":{"input_tokens":1,"input_tokens":2}}'
    s["array_10k_not_objects.json"] = j([0] * 10000)
    s["array_2k_events.json"] = j([{"model": "claude-haiku-4-5", "usage": {"input_tokens": i % 7}} for i in range(2000)])
    # Found by fuzz_json_document (differences from nlohmann::json, both by design).
    s["nul_after_value.json"] = b' -1\x00\x00\x00\nt_tocachet"\n \n'
    s["number_overflows_double.json"] = "99991e308"
    s["empty_array.json"] = "[ ]"  # found by fuzz_event_parser: a batch of no events
    s["many_tenants.ndjson"] = "\n".join(j({"model": "claude-haiku-4-5", "tenant": f"t{i}", "feature": f"f{i % 5}"})
                                         for i in range(200))
    return s


def main():
    out = os.path.join(CORPUS, "events")
    os.makedirs(out, exist_ok=True)
    for name, text in events().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode())

    prices = os.path.join(CORPUS, "price_table")
    os.makedirs(prices, exist_ok=True)
    shutil.copy(os.path.join(REPO, "exporter", "pricing", "prices.yml"), os.path.join(prices, "shipped_prices.yml"))
    with open(os.path.join(prices, "one_model.yml"), "w") as f:
        f.write('as_of: "2026-01-15"\nsource: "x"\nbatch_factor: "0.5"\nmodels:\n'
                '  - model: claude-haiku-4-5\n    usd_per_mtok: {input: "1", output: "5", cache_read: "0.1",'
                ' cache_write_5m: "1.25", cache_write_1h: "2"}\n')
    with open(os.path.join(prices, "bad_rate.yml"), "w") as f:
        f.write('models:\n  - model: m\n    usd_per_mtok: {input: "1.0000001", output: -5, cache_read: [], '
                'cache_write_5m: 1e400}\n    long_context: {above_input_tokens: -1}\n')

    config = os.path.join(CORPUS, "exporter_config")
    os.makedirs(config, exist_ok=True)
    shutil.copy(os.path.join(REPO, "exporter", "config", "llm-cost-exporter.yml"),
                os.path.join(config, "shipped_config.yml"))
    with open(os.path.join(config, "bad_values.yml"), "w") as f:
        f.write("labels:\n  attribution: [feature, feature, 'bad-name', '']\n  max_values_per_label: -1\n"
                "  max_values: {tenant: 1e99}\nhistograms:\n  cost_usd_buckets: [2, 1, .nan]\n"
                "budgets:\n  - {scope: 'tenant:', period: week, usd: .inf}\n")
    with open(os.path.join(config, "anchors_and_tags.yml"), "w") as f:
        f.write("a: &x [1, 2]\nlabels: {attribution: *x}\n!!binary budgets: ~\n")

    # http_request/: the first byte picks the piece size the target feeds at a time.
    http = os.path.join(CORPUS, "http_request")
    os.makedirs(http, exist_ok=True)
    gz = gzip.compress(b'{"model":"m"}', mtime=0)
    for name, data in {
        "get": b"\x07GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "post_pipelined": b'\x03POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n{"model":"m"}'
                          b"GET / HTTP/1.0\r\n\r\n",
        "chunked": b"\x01POST /v1/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
                   b'5;x=y\r\n{"mod\r\n8\r\nel":"m"}\r\n0\r\nTrailer: 1\r\n\r\n',
        "reload_no_body": b"\x10POST /-/reload HTTP/1.1\r\nHost: x\r\n\r\n",
        "smuggle": b"\x05POST /v1/events HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello",
        "gzip": b"\x02POST /v1/events HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(gz) + gz,
    }.items():
        with open(os.path.join(http, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
