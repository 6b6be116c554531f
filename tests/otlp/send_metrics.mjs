// The real OpenTelemetry JavaScript SDK (sdk-metrics + the OTLP/HTTP metrics
// exporter, JSON or protobuf) emitting Claude Code shaped counters
// (claude_code.token.usage, claude_code.cost.usage) and GenAI token histograms
// (gen_ai.client.token.usage), delta or cumulative. Reads a JSON spec on stdin:
// {url, protocol, gzip, temporality: "delta"|"cumulative", resource, resend,
//  steps: [[{metric, kind: "counter"|"histogram", unit, value, attributes}]]};
// every step is recorded and then exported (one export each); with `resend` the
// first export is sent twice (an OTLP retry). Prints {"results": [...]} and exits 1
// unless every export succeeded. One process = one SDK start time.
import { readFileSync } from "node:fs";
import { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } from "@opentelemetry/sdk-metrics";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPMetricExporter as JsonExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as ProtoExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { AggregationTemporalityPreference } from "@opentelemetry/exporter-metrics-otlp-http";

const spec = JSON.parse(readFileSync(0, "utf8"));
const Exporter = spec.protocol === "http/protobuf" ? ProtoExporter : JsonExporter;
const inner = new Exporter({
  url: spec.url,
  compression: spec.gzip ? "gzip" : "none",
  temporalityPreference: spec.temporality === "cumulative" ? AggregationTemporalityPreference.CUMULATIVE
                                                             : AggregationTemporalityPreference.DELTA,
});
const results = [];
let exports = 0;
const send = (metrics) => new Promise((resolve) => inner.export(metrics, (r) => {
  results.push({ code: r.code, error: r.error ? String(r.error) : undefined });
  resolve(r);
}));
const exporter = {
  async export(metrics, done) {
    const n = exports++;
    const r = await send(metrics);
    if (n === 0 && spec.resend) await send(metrics);
    done(r);
  },
  selectAggregationTemporality: (kind) => inner.selectAggregationTemporality(kind),
  forceFlush: () => inner.forceFlush(),
  shutdown: () => inner.shutdown(),
};
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 });
const provider = new MeterProvider({ resource: resourceFromAttributes(spec.resource), readers: [reader] });
const meter = provider.getMeter("com.anthropic.claude_code", "2.1.0");
const instruments = {};
const instrument = (m) => {
  if (!instruments[m.metric]) {
    instruments[m.metric] = m.kind === "histogram" ? meter.createHistogram(m.metric, { unit: m.unit })
                                                   : meter.createCounter(m.metric, { unit: m.unit });
  }
  return instruments[m.metric];
};
for (const step of spec.steps) {
  for (const m of step) {
    const i = instrument(m);
    if (m.kind === "histogram") i.record(m.value, m.attributes);
    else i.add(m.value, m.attributes);
  }
  await reader.forceFlush();
}
await provider.shutdown();
console.log(JSON.stringify({ results }));
process.exit(results.length > 0 && results.every((r) => r.code === 0) ? 0 : 1);
