// The real OpenTelemetry JavaScript SDK (sdk-logs + the OTLP/HTTP logs exporter,
// JSON or protobuf) emitting Claude Code shaped log records, as Claude Code does:
// body "claude_code.api_request", attribute event.name, integer attributes as
// JS numbers. Reads a JSON spec on stdin: {url, protocol, gzip, resource, records};
// prints {"results": [export result codes]} and exits 1 unless every export succeeded.
import { readFileSync } from "node:fs";
import { LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPLogExporter as JsonExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as ProtoExporter } from "@opentelemetry/exporter-logs-otlp-proto";

const spec = JSON.parse(readFileSync(0, "utf8"));
const Exporter = spec.protocol === "http/protobuf" ? ProtoExporter : JsonExporter;
const inner = new Exporter({ url: spec.url, compression: spec.gzip ? "gzip" : "none", headers: spec.headers || {} });
const results = [];
// Records each export's result, so the test sees what the SDK saw.
const exporter = {
  export(records, done) {
    inner.export(records, (r) => {
      results.push({ code: r.code, error: r.error ? String(r.error) : undefined });
      done(r);
    });
  },
  forceFlush: () => inner.forceFlush(),
  shutdown: () => inner.shutdown(),
};
const provider = new LoggerProvider({
  resource: resourceFromAttributes(spec.resource),
  processors: [new SimpleLogRecordProcessor({ exporter })],
});
const logger = provider.getLogger("com.anthropic.claude_code.events", "2.1.0");
for (const r of spec.records) {
  logger.emit({ body: r.body, attributes: r.attributes, ...(r.eventName ? { eventName: r.eventName } : {}) });
}
await provider.forceFlush();
await provider.shutdown();
console.log(JSON.stringify({ results }));
process.exit(results.length > 0 && results.every((r) => r.code === 0) ? 0 : 1);
