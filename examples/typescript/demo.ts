// One plain and one streamed call, both reported to llm-cost-exporter; on an API
// error the error event is still sent (flush) before the process exits with 1.
//   ANTHROPIC_API_KEY=... [ANTHROPIC_BASE_URL=...] npm start
import Anthropic from "@anthropic-ai/sdk";
import { createWithUsage, flush, streamWithUsage } from "./send-usage.js";

const client = new Anthropic({ baseURL: process.env.ANTHROPIC_BASE_URL, maxRetries: 0 });
const params = { model: "claude-sonnet-4-6", max_tokens: 256,
                 messages: [{ role: "user" as const, content: "Say hello." }] };
const labels = { feature: "ts-example", tenant: "acme", route: "/demo" };

try {
  const msg = await createWithUsage(client, params, labels);
  console.log(msg.content);
  for await (const ev of streamWithUsage(client, params, labels)) {
    if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") process.stdout.write(ev.delta.text);
  }
  console.log();
} catch (err) {
  console.error("Anthropic API call failed:", err instanceof Error ? err.message : err);
  process.exitCode = 1;
} finally {
  await flush(); // the last datagrams leave before the process exits
}
