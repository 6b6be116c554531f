#!/usr/bin/env python3
"""Hostile input for the task tracker and the repeated-prompt table (issue 15): one
million distinct task_ids, then one million distinct prompt_hashes, POSTed in
batches to the real binary as fast as a bounded loop allows, behind an ingest
token. Checks, after each flood:
  - memory: RSS stays under the documented bound (docs/metrics.md, "Task series":
    the tables are capped at tasks.max_tasks and prompts.max_hashes, 100,000 each);
  - the cap: exactly 100,000 active tasks / tracked hashes, every other one counted
    (llm_tasks_evicted_total, llm_prompt_hashes_dropped_total), none lost silently;
  - the entries kept are exact: ten long-lived tasks that get a hop in every batch
    keep every hop and every pico-dollar, and one prompt sent twice per batch keeps
    every repeat and its cost, read back from the drill-down endpoints (which refuse
    a request without the token);
  - /metrics still answers (a loose hang detector, not a speed test: speed is for
    bench/); the scrape times seen are printed.
Prints RSS per tracked task and per tracked hash (the figures docs/metrics.md gives).
Money is computed here from claude-haiku-4-5's $1 / $5 per million tokens."""
import json
import os
import sys
import tempfile
import time
import unittest

SOURCE_DIR = os.environ.get("SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "lib"))
from exporter_process import Exporter, total, value  # noqa: E402
from http_client import http  # noqa: E402

BINARY = os.environ["EXPORTER_BINARY"]
PRICES = os.path.join(SOURCE_DIR, "exporter", "pricing", "prices.yml")
HAIKU_IN, HAIKU_OUT = 1.0, 5.0  # USD per million tokens (pricing-facts.md)
N = 1_000_000        # distinct ids per flood
PER_POST = 5000      # events per POST (about 700 KB, under the 4 MiB body limit)
CAP = 100_000        # tasks.max_tasks and prompts.max_hashes defaults
KEEPERS = 10         # long-lived tasks, one hop per POST
RSS_BOUND = 100 * 2**20  # docs/metrics.md: the process with both tables full (measured 55 MiB)
SCRAPE_HANG = 10.0   # s: a hang detector on a loaded CI machine, not a speed bound
# No hash leaves the window during the run (the default 60 s could expire some on
# a slow machine, and the test wants exact counts, not timing).
CONFIG = "prompts: {window_seconds: 600}\n"


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def usd(input_tokens, output_tokens):
    return input_tokens * HAIKU_IN / 1e6 + output_tokens * HAIKU_OUT / 1e6


class TaskFloodTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="llm-task-flood-")
        self.addCleanup(self.tmp.cleanup)
        token = os.path.join(self.tmp.name, "token")
        with open(token, "w") as f:
            f.write("flood-test-token\n")
        self.auth = {"Authorization": "Bearer flood-test-token"}
        self.e = Exporter(BINARY, PRICES, CONFIG, ["--log.level=error", "--web.ingest-token-file=" + token]).start()
        self.addCleanup(self.e.close)

    def post_all(self, lines_for_post):
        posts = 0
        for start in range(0, N, PER_POST):
            lines = lines_for_post(start)
            status, body = http("POST", self.e.ingest + "/v1/events", "\n".join(lines), self.auth, timeout=60)
            self.assertEqual(status, 202, body[:300])
            self.assertEqual(json.loads(body)["accepted"], len(lines))
            posts += 1
        return posts

    def get(self, path, auth=True):
        status, body = http("GET", self.e.ingest + path, None, self.auth if auth else {}, timeout=30)
        return status, json.loads(body) if body else None

    def scrape_timed(self):
        t0 = time.perf_counter()
        s = self.e.scrape()
        took = time.perf_counter() - t0
        self.assertLess(took, SCRAPE_HANG)
        return s, took

    def test_a_million_tasks_then_a_million_prompt_hashes_stay_bounded_and_exact(self):
        t_start = time.monotonic()
        self.e.scrape()
        rss0 = rss_bytes(self.e.proc.pid)

        # --- one million distinct task ids (1 hop each) and ten keepers ---------
        flood = ('{"model":"claude-haiku-4-5","usage":{"input_tokens":20,"output_tokens":2},'
                 '"labels":{"feature":"flood","tenant":"t"},"task_id":"flood-%d"}')
        keeper = ('{"model":"claude-haiku-4-5","usage":{"input_tokens":100,"output_tokens":10},'
                  '"labels":{"feature":"agent","tenant":"acme"},"task_id":"keeper-%d"}')
        posts = self.post_all(lambda start: [keeper % k for k in range(KEEPERS)] +
                              [flood % i for i in range(start, start + PER_POST)])
        sent = N + KEEPERS * posts
        s = self.e.settle(lambda s: total(s, "llm_requests_total") == sent, timeout=30)
        s, scrape1 = self.scrape_timed()
        rss1 = rss_bytes(self.e.proc.pid)
        self.assertEqual(total(s, "llm_requests_total"), sent)
        self.assertEqual(total(s, "llm_active_tasks"), CAP)
        # Every task beyond the cap ended early and was counted (and observed).
        self.assertEqual(value(s, "llm_tasks_evicted_total"), N + KEEPERS - CAP)
        self.assertEqual(value(s, "llm_task_hops_count", feature="flood"), N - (CAP - KEEPERS))
        for reason in ("hops", "cost", "duration"):
            self.assertEqual(value(s, "llm_runaway_tasks_total", feature="flood", reason=reason), 0)
        # Each keeper passed 12 hops once; none passed $0.50 (posts x $0.00015).
        self.assertEqual(value(s, "llm_runaway_tasks_total", feature="agent", reason="hops"), KEEPERS)
        self.assertEqual(value(s, "llm_runaway_tasks_total", feature="agent", reason="cost"), 0)

        status, _ = self.get("/v1/tasks/top?by=hops&n=%d" % KEEPERS, auth=False)
        self.assertEqual(status, 401)
        status, top = self.get("/v1/tasks/top?by=hops&n=%d" % KEEPERS)
        self.assertEqual(status, 200)
        self.assertEqual(top["active_tasks"], CAP)
        self.assertEqual(top["evicted_total"], N + KEEPERS - CAP)
        self.assertEqual(sorted(t["task_id"] for t in top["tasks"]), sorted("keeper-%d" % k for k in range(KEEPERS)))
        for t in top["tasks"]:
            self.assertEqual(t["hops"], posts)
            self.assertAlmostEqual(t["cost_usd"], posts * usd(100, 10), places=12)
            self.assertEqual(t["tokens"], posts * 110)
            self.assertEqual((t["feature"], t["tenant"], t["runaway"]), ("agent", "acme", ["hops"]))

        # --- one million distinct prompt hashes, and one prompt twice per POST -----
        hashed = ('{"model":"claude-haiku-4-5","usage":{"input_tokens":20,"output_tokens":2},'
                  '"labels":{"feature":"flood","tenant":"t"},"prompt_hash":"sha256:%016x"}')
        storm = ('{"model":"claude-haiku-4-5","usage":{"input_tokens":300,"output_tokens":30},'
                 '"labels":{"feature":"chat","tenant":"acme"},"prompt_hash":"sha256:storm"}')
        posts2 = self.post_all(lambda start: [storm, storm] + [hashed % i for i in range(start, start + PER_POST)])
        sent += N + 2 * posts2
        s = self.e.settle(lambda s: total(s, "llm_requests_total") == sent, timeout=30)
        s, scrape2 = self.scrape_timed()
        rss2 = rss_bytes(self.e.proc.pid)
        self.assertEqual(total(s, "llm_requests_total"), sent)
        # The storm's hash came first, so it is tracked; of the flood, CAP - 1 are.
        self.assertEqual(value(s, "llm_prompt_hashes_dropped_total"), N - (CAP - 1))
        repeats = 2 * posts2 - 5  # every copy after the 5th within the window
        self.assertEqual(value(s, "llm_repeated_prompt_requests_total", feature="chat"), repeats)
        self.assertAlmostEqual(value(s, "llm_repeated_prompt_cost_usd_total", feature="chat"),
                               repeats * usd(300, 30), places=9)
        self.assertEqual(value(s, "llm_repeated_prompt_requests_total", feature="flood"), 0)
        status, top = self.get("/v1/prompts/top?n=1")
        self.assertEqual(status, 200)
        self.assertEqual(top["tracked_hashes"], CAP)
        p = top["prompts"][0]
        self.assertEqual((p["prompt_hash"], p["feature"], p["tenant"]), ("sha256:storm", "chat", "acme"))
        self.assertEqual(p["repeated_requests"], repeats)
        self.assertAlmostEqual(p["repeated_cost_usd"], repeats * usd(300, 30), places=12)
        self.assertEqual(self.get("/v1/prompts/top", auth=False)[0], 401)
        # The task table is unchanged by events without a task id.
        self.assertEqual(self.get("/v1/tasks/top?n=1")[1]["active_tasks"], CAP)

        print("task flood: %d + %d events in %.1f s; RSS %.1f MiB at start, %.1f MiB with %d tasks "
              "(%.0f bytes per tracked task), %.1f MiB with %d hashes too (%.0f bytes per tracked hash); "
              "scrape %.3f s and %.3f s"
              % (N + KEEPERS * posts, N + 2 * posts2, time.monotonic() - t_start, rss0 / 2**20, rss1 / 2**20, CAP,
                 (rss1 - rss0) / CAP, rss2 / 2**20, CAP, (rss2 - rss1) / CAP, scrape1, scrape2), flush=True)
        self.assertLess(max(rss1, rss2), RSS_BOUND, (rss0, rss1, rss2))


if __name__ == "__main__":
    unittest.main(verbosity=2)
