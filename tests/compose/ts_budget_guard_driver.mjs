// Drives examples/typescript/dist/budget-guard.js with the real @anthropic-ai/sdk against the
// fake Messages API and the real exporter; prints one JSON line per step: {step, outcome, ...}.
//   EXAMPLE_DIR=... FAKE_API=http://127.0.0.1:PORT LLM_COST_EXPORTER_URL=... CAP_USD=... node ts_budget_guard_driver.mjs
import path from "node:path";
import { pathToFileURL } from "node:url";

const dir = process.env.EXAMPLE_DIR;
const { default: Anthropic } = await import(pathToFileURL(path.join(dir, "node_modules/@anthropic-ai/sdk/index.mjs")).href);
const bg = await import(pathToFileURL(path.join(dir, "dist/budget-guard.js")).href);
const { flush } = await import(pathToFileURL(path.join(dir, "dist/send-usage.js")).href);
const params = { model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "Hi" }] };
const client = (scenario) => new Anthropic({ apiKey: "test-key", baseURL: `${process.env.FAKE_API}/${scenario}`, maxRetries: 0 });
const out = (step, outcome, extra = {}) => console.log(JSON.stringify({ step, outcome, ...extra }));
const name = (err) => err?.constructor?.name;

const guard = new bg.BudgetGuard("feature:ts-guard", { maxAgeMs: 0 });
await bg.guardedCreate(client("ok"), guard, params, { feature: "ts-guard", tenant: "acme" });
await flush();
out("first", "ok");
let refused = false; // the event travels over UDP: wait until the exporter has counted it
for (let i = 0; i < 100 && !refused; i++) {
  try { await guard.check(); await new Promise((r) => setTimeout(r, 50)); } catch (err) { refused = err instanceof bg.BudgetExceeded; }
}
try { await bg.guardedCreate(client("ok"), guard, params, { feature: "ts-guard", tenant: "acme" }); out("second", "called"); }
catch (err) { out("second", name(err)); }
// No budget state (404 for an unknown scope): fail open by default, closed by option.
try { await bg.guardedCreate(client("ok"), new bg.BudgetGuard("feature:nope"), params, { feature: "ts-open", tenant: "acme" }); out("open", "called"); }
catch (err) { out("open", name(err)); }
try { await bg.guardedCreate(client("ok"), new bg.BudgetGuard("feature:nope", { failClosed: true }), params, { feature: "ts-closed", tenant: "acme" }); out("closed", "called"); }
catch (err) { out("closed", name(err)); }
let deltas = 0;
try {
  for await (const ev of bg.cappedStream(client("long"), new bg.BudgetGuard("global"), params, { feature: "ts-capped", tenant: "acme" }, Number(process.env.CAP_USD))) {
    if (ev.type === "content_block_delta") deltas++;
  }
  out("capped", "not stopped", { deltas });
} catch (err) { out("capped", name(err), { deltas }); }
out("rates", "ok", { output: (await bg.pusdPerToken("claude-sonnet-4-6")).output });
await flush();
