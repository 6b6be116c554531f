// Drives examples/typescript/dist/send-usage.js with the real @anthropic-ai/sdk (from
// the example's node_modules) against the fake Messages API (tests/lib/fake_messages_api.py),
// one labelled call per path; prints one JSON line per call: {feature, outcome}.
//   EXAMPLE_DIR=... FAKE_API=http://127.0.0.1:PORT node ts_example_driver.mjs
import path from "node:path";
import { pathToFileURL } from "node:url";

const dir = process.env.EXAMPLE_DIR;
const { default: Anthropic } = await import(pathToFileURL(path.join(dir, "node_modules/@anthropic-ai/sdk/index.mjs")).href);
const { createWithUsage, streamWithUsage, flush } = await import(pathToFileURL(path.join(dir, "dist/send-usage.js")).href);
const params = { model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "Hi" }] };
const client = (scenario) => new Anthropic({ apiKey: "test-key", baseURL: `${process.env.FAKE_API}/${scenario}`, maxRetries: 0 });
const labels = (feature) => ({ feature, tenant: "acme" });

async function run(feature, fn) {
  let outcome = "ok";
  try { await fn(); } catch (err) { outcome = `threw ${err?.constructor?.name}: ${err?.type ?? err?.status ?? err?.message}`; }
  console.log(JSON.stringify({ feature, outcome }));
}
async function drain(scenario, feature, stopAfter = Infinity) {
  let n = 0;
  for await (const ev of streamWithUsage(client(scenario), params, labels(feature))) {
    if (ev.type === "content_block_delta" && ++n >= stopAfter) break; // the caller stops early
  }
}

// The same message id twice: counted once by the exporter only if request_id is sent.
await run("ts-create", () => createWithUsage(client("ok"), params, labels("ts-create")));
await run("ts-create", () => createWithUsage(client("ok"), params, labels("ts-create")));
await run("ts-stream", () => drain("ok", "ts-stream"));
await run("ts-stream", () => drain("ok", "ts-stream"));
await run("ts-stream-break", () => drain("long", "ts-stream-break", 3));
await run("ts-stream-error", () => drain("sse_error", "ts-stream-error"));
await run("ts-stream-cut", () => drain("cut", "ts-stream-cut"));
await run("ts-http-429", () => createWithUsage(client("http_429"), params, labels("ts-http-429")));
await run("ts-stream-529", () => drain("http_529", "ts-stream-529"));
await flush();
