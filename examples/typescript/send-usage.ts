// Report each Anthropic API call to llm-cost-exporter over UDP (fire-and-forget: the app
// never waits for or fails on it). Every path reports: success, API error, and a stream
// that fails, ends early or is stopped (break) reports the usage seen so far.
import Anthropic from "@anthropic-ai/sdk";
import dgram from "node:dgram";

const EXPORTER_HOST = process.env.LLM_COST_EXPORTER_HOST ?? "127.0.0.1";
const EXPORTER_PORT = Number(process.env.LLM_COST_EXPORTER_PORT ?? 10430);
const sock = dgram.createSocket("udp4");
sock.unref(); // never keeps the process alive
let pending = 0, idle: Array<() => void> = [];

type Labels = { feature: string; tenant: string; route?: string };

export function sendEvent(model: string, usage: object | null, startMs: number, labels: Labels,
                          extra: Record<string, unknown> = {}): void {
  const event = { model, usage, latency_ms: Math.round(performance.now() - startMs), labels, ...extra };
  pending++; // errors ignored:
  sock.send(JSON.stringify(event), EXPORTER_PORT, EXPORTER_HOST, () => {
    if (--pending === 0) { sock.unref(); idle.splice(0).forEach((done) => done()); } });
}
// Resolves once every event sent so far has left: await it before the process exits.
export const flush = (): Promise<void> =>
  pending === 0 ? Promise.resolve() : new Promise((done) => { sock.ref(); idle.push(done); });

function errorFields(err: unknown): Record<string, unknown> { // an SSE error event has no status
  const e = err as { status?: number; type?: string | null };
  return { status: e.status ?? "error", error_type: e.type ?? "connection_error" };
}

export async function createWithUsage(client: Anthropic, params: Anthropic.MessageCreateParamsNonStreaming, labels: Labels) {
  const start = performance.now();
  try {
    const msg = await client.messages.create(params);
    sendEvent(msg.model, msg.usage, start, labels, { status: 200, stop_reason: msg.stop_reason, request_id: msg.id });
    return msg;
  } catch (err) { sendEvent(params.model, null, start, labels, errorFields(err)); throw err; }
}

// Streams: message_start carries the usage; each message_delta's counts are CUMULATIVE,
// so the last one overwrites the start's fields one by one (never add them up).
export async function* streamWithUsage(client: Anthropic, params: Anthropic.MessageCreateParamsNonStreaming, labels: Labels) {
  const start = performance.now(), extra: Record<string, unknown> = { status: 200 };
  let usage: Record<string, unknown> = {}, model = params.model, last = "";
  try {
    for await (const ev of await client.messages.create({ ...params, stream: true })) {
      last = ev.type;
      if (ev.type === "message_start") { usage = { ...ev.message.usage }; model = ev.message.model; extra.request_id = ev.message.id; }
      else if (ev.type === "content_block_delta" && extra.ttft_ms === undefined) extra.ttft_ms = Math.round(performance.now() - start);
      else if (ev.type === "message_delta") {
        extra.stop_reason = ev.delta.stop_reason;
        for (const [k, v] of Object.entries(ev.usage)) if (v !== null && v !== undefined) usage[k] = v;
      }
      yield ev;
    }
    if (last !== "message_stop") extra.error_type = "connection_error"; // the stream ended early
  } catch (err) { Object.assign(extra, errorFields(err)); throw err; }
  finally { sendEvent(model, Object.keys(usage).length ? usage : null, start, labels, extra); } // also on break
}
