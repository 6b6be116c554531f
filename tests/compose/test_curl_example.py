"""examples/curl/send-event.sh posts one event; the exporter must count it."""
import json
import os

from harness import SOURCE_DIR, Exporter, by_label, fail, run_bounded, total

with Exporter() as ex:
    res = run_bounded(["sh", os.path.join(SOURCE_DIR, "examples/curl/send-event.sh"),
                       f"http://127.0.0.1:{ex.ingest_port}/v1/events"], 20)
    if res.returncode != 0:
        fail(f"send-event.sh exited {res.returncode}: {res.stdout} {res.stderr}")
    reply = json.loads(res.stdout)
    if reply.get("accepted") != 1 or reply.get("rejected") != 0:
        fail("exporter reply: " + res.stdout)
    m = ex.scrape_until(lambda m: total(m, "llm_requests_total") >= 1)
    tokens = {k: int(v) for k, v in by_label(m, "llm_tokens_total", "token_type", feature="chat", tenant="acme").items()}
    if tokens != {"input": 1247, "output": 612, "cache_read": 28430}:
        fail(f"tokens {tokens}")
    if total(m, "llm_requests_total", model="claude-sonnet-4-5", route="/api/chat", status="ok") != 1:
        fail("request not counted under model claude-sonnet-4-5, route /api/chat")
    # Nothing listening: curl must give up within --max-time and exit non-zero.
    res = run_bounded(["sh", os.path.join(SOURCE_DIR, "examples/curl/send-event.sh"), "http://127.0.0.1:9/v1/events"], 20)
    if res.returncode == 0:
        fail("send-event.sh reported success with no exporter")
print("ok: curl example")
