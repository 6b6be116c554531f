// One plain and one streamed call, both reported to llm-cost-exporter.
//   ANTHROPIC_API_KEY=... [ANTHROPIC_BASE_URL=...] npm start
import Anthropic from "@anthropic-ai/sdk";
import { createWithUsage, streamWithUsage } from "./send-usage.js";

const client = new Anthropic({ baseURL: process.env.ANTHROPIC_BASE_URL, maxRetries: 0 });
const params = { model: "claude-sonnet-4-6", max_tokens: 256,
                 messages: [{ role: "user" as const, content: "Say hello." }] };
const labels = { feature: "ts-example", tenant: "acme", route: "/demo" };

const msg = await createWithUsage(client, params, labels);
console.log(msg.content);
for await (const ev of streamWithUsage(client, params, labels)) {
  if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") process.stdout.write(ev.delta.text);
}
console.log();
await new Promise((r) => setTimeout(r, 100)); // let the last datagram leave before exit
