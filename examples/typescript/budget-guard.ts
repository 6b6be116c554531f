// Circuit breakers on llm-cost-exporter's budgets (docs/budgets.md), beside send-usage.ts:
//   const guard = new BudgetGuard("feature:chat");           // fail open; { failClosed: true } for hard caps
//   const msg = await guardedCreate(client, guard, params, labels);  // BudgetExceeded once `exceeded`
//   for await (const ev of cappedStream(client, guard, params, labels, 0.5)) { ... }
// cappedStream prices the running stream with the exporter's own rates (GET /v1/prices/<model>)
// and stops it with StreamCapExceeded past the cap; streamWithUsage then reports the usage seen.
import Anthropic from "@anthropic-ai/sdk";
import { createWithUsage, streamWithUsage } from "./send-usage.js";

const EXPORTER_URL = process.env.LLM_COST_EXPORTER_URL ?? "http://127.0.0.1:10430";
const TOKEN = process.env.LLM_COST_EXPORTER_TOKEN; // --web.ingest-token-file's token, if set
// Message usage fields -> the exporter's token types (the price table's names).
const TOKEN_TYPES: Record<string, string> = { input_tokens: "input", output_tokens: "output",
  cache_read_input_tokens: "cache_read", cache_creation_input_tokens: "cache_write_5m" };
type Labels = { feature: string; tenant: string; route?: string };

export class BudgetExceeded extends Error {}
export class StreamCapExceeded extends BudgetExceeded {}

async function get(path: string, etag?: string, timeoutMs = 500): Promise<{ status: number; etag?: string; body?: any }> {
  const headers: Record<string, string> = {};
  if (TOKEN) headers.Authorization = `Bearer ${TOKEN}`;
  if (etag) headers["If-None-Match"] = etag;
  const r = await fetch(EXPORTER_URL + path, { headers, signal: AbortSignal.timeout(timeoutMs) });
  if (r.status === 304) return { status: 304, etag };
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return { status: r.status, etag: r.headers.get("ETag") ?? undefined, body: await r.json() };
}

// The state of one scope, cached for maxAgeMs and revalidated with its ETag.
export class BudgetGuard {
  private until = 0; private etag?: string; private answer?: { state: string };
  constructor(readonly scope: string, readonly opts: { failClosed?: boolean; maxAgeMs?: number } = {}) {}
  async check(): Promise<void> {
    if (Date.now() >= this.until) {
      try {
        const r = await get(`/v1/budgets/${encodeURIComponent(this.scope)}`, this.etag);
        if (r.status === 200) { this.answer = r.body; this.etag = r.etag; }
      } catch (err) { // unreachable, 401, 404 (a scope without a budget)
        if (this.opts.failClosed) throw new BudgetExceeded(`${this.scope}: budget state unknown (${err})`);
        return; // fail open: the exporter must never take the application down
      }
      this.until = Date.now() + (this.opts.maxAgeMs ?? 5000);
    }
    if (this.answer?.state === "exceeded") throw new BudgetExceeded(`${this.scope}: budget exceeded; not calling the API`);
  }
}

const rates = new Map<string, Record<string, number | null>>();
export async function pusdPerToken(model: string): Promise<Record<string, number | null>> {
  if (!rates.has(model)) rates.set(model, (await get(`/v1/prices/${encodeURIComponent(model)}`, undefined, 2000)).body.price.current.pusd_per_token);
  return rates.get(model)!;
}
const costUsd = (usage: Record<string, unknown>, r: Record<string, number | null>) =>
  Object.entries(TOKEN_TYPES).reduce((s, [k, t]) => s + Number(usage[k] ?? 0) * (r[t] ?? 0), 0) / 1e12;

export async function guardedCreate(client: Anthropic, guard: BudgetGuard, params: Anthropic.MessageCreateParamsNonStreaming, labels: Labels) {
  await guard.check();
  return createWithUsage(client, params, labels);
}

// Output tokens arrive only in message_delta (cumulative), so between them each text delta
// counts as one output token: a lower bound, only used to decide when to stop.
export async function* cappedStream(client: Anthropic, guard: BudgetGuard, params: Anthropic.MessageCreateParamsNonStreaming,
                                    labels: Labels, capUsd: number) {
  await guard.check();
  const r = await pusdPerToken(params.model);
  let usage: Record<string, unknown> = {}, deltas = 0;
  for await (const ev of streamWithUsage(client, params, labels)) { // a throw below closes it: the usage is reported
    if (ev.type === "message_start") usage = { ...ev.message.usage };
    else if (ev.type === "content_block_delta") deltas++;
    else if (ev.type === "message_delta") for (const [k, v] of Object.entries(ev.usage)) if (v != null) usage[k] = v;
    const running = costUsd({ ...usage, output_tokens: Math.max(Number(usage.output_tokens ?? 0), deltas) }, r);
    if (running > capUsd) throw new StreamCapExceeded(`stream stopped at $${running.toFixed(6)}, cap $${capUsd}`);
    yield ev;
  }
}
