// The real OpenTelemetry JavaScript SDK (sdk-trace-base + the OTLP/HTTP trace
// exporter, JSON or protobuf) emitting GenAI client spans shaped by the semantic
// conventions (gen_ai.provider.name or gen_ai.system, gen_ai.request.model,
// gen_ai.usage.* with input INCLUDING cache tokens). Reads a JSON spec on stdin:
// {url, protocol, gzip, resource, resend, spans: [{name, attributes, error}]};
// with `resend` every export is sent twice (an OTLP retry). Prints
// {"results": [...]} and exits 1 unless every export succeeded.
import { readFileSync } from "node:fs";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";

const spec = JSON.parse(readFileSync(0, "utf8"));
const Exporter = spec.protocol === "http/protobuf" ? ProtoExporter : JsonExporter;
const inner = new Exporter({ url: spec.url, compression: spec.gzip ? "gzip" : "none" });
const results = [];
const send = (spans) => new Promise((resolve) => inner.export(spans, (r) => {
  results.push({ code: r.code, error: r.error ? String(r.error) : undefined });
  resolve(r);
}));
const exporter = {
  async export(spans, done) {
    const r = await send(spans);
    if (spec.resend) await send(spans);
    done(r);
  },
  forceFlush: () => inner.forceFlush(),
  shutdown: () => inner.shutdown(),
};
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes(spec.resource),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer("test-genai-instrumentation", "1.0.0");
for (const s of spec.spans) {
  const span = tracer.startSpan(s.name, { kind: SpanKind.CLIENT, attributes: s.attributes });
  if (s.error) span.setStatus({ code: SpanStatusCode.ERROR, message: "overloaded" });
  span.end();
}
await provider.forceFlush();
await provider.shutdown();
console.log(JSON.stringify({ results }));
process.exit(results.length > 0 && results.every((r) => r.code === 0) ? 0 : 1);
