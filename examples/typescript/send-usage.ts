// Report each Anthropic API call to llm-cost-exporter over UDP (fire-and-forget:
// a lost datagram loses one event, and the app never waits for or fails on it).
import Anthropic from "@anthropic-ai/sdk";
import dgram from "node:dgram";

const EXPORTER_HOST = process.env.LLM_COST_EXPORTER_HOST ?? "127.0.0.1";
const EXPORTER_PORT = Number(process.env.LLM_COST_EXPORTER_PORT ?? 10430);
const sock = dgram.createSocket("udp4");
sock.unref(); // never keeps the process alive

type Labels = { feature: string; tenant: string; route?: string };

export function sendEvent(model: string, usage: object | null, startMs: number, labels: Labels,
                          extra: Record<string, unknown> = {}): void {
  const event = { model, usage, latency_ms: Math.round(performance.now() - startMs), labels, ...extra };
  sock.send(JSON.stringify(event), EXPORTER_PORT, EXPORTER_HOST, () => {}); // errors ignored
}

function reportError(model: string, err: unknown, start: number, labels: Labels): void {
  const e = err as { status?: number; type?: string | null };
  sendEvent(model, null, start, labels, { status: e.status ?? "error", error_type: e.type ?? "connection_error" });
}

export async function createWithUsage(client: Anthropic, params: Anthropic.MessageCreateParamsNonStreaming, labels: Labels) {
  const start = performance.now();
  try {
    const msg = await client.messages.create(params);
    sendEvent(msg.model, msg.usage, start, labels, { status: 200, stop_reason: msg.stop_reason, request_id: msg.id });
    return msg;
  } catch (err) { reportError(params.model, err, start, labels); throw err; }
}

// Streams: message_start carries the usage; each message_delta's counts are CUMULATIVE,
// so the last one overwrites the start's fields one by one (never add them up).
export async function* streamWithUsage(client: Anthropic, params: Anthropic.MessageCreateParamsNonStreaming, labels: Labels) {
  const start = performance.now();
  let usage: Record<string, unknown> = {}, model = params.model, ttft: number | undefined;
  try {
    for await (const ev of await client.messages.create({ ...params, stream: true })) {
      if (ev.type === "message_start") { usage = { ...ev.message.usage }; model = ev.message.model; }
      else if (ev.type === "content_block_delta" && ttft === undefined) ttft = Math.round(performance.now() - start);
      else if (ev.type === "message_delta")
        for (const [k, v] of Object.entries(ev.usage)) if (v !== null && v !== undefined) usage[k] = v;
      yield ev;
    }
  } catch (err) { reportError(model, err, start, labels); throw err; }
  sendEvent(model, usage, start, labels, { status: 200, ttft_ms: ttft });
}
