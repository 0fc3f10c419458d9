// Package otlpjson exports OpenTelemetry spans over OTLP/HTTP with the
// JSON encoding (the OTLP specification's JSON mapping of
// ExportTraceServiceRequest: hex trace and span IDs, int64 as decimal
// strings, enums as numbers) to a collector's /v1/traces endpoint.
//
// It exists for the size of Lambda binaries: the SDK's otlptracehttp
// exporter links protocol buffers and gRPC's status types and doubles a
// mullet bootstrap (docs/benchmarks.md, tracing), while this exporter is a
// few hundred lines over encoding/json and net/http. Any OTLP/HTTP
// receiver accepts JSON: the OpenTelemetry Collector, the ADOT Lambda
// layer's collector, and mullet dev's receiver.
package otlpjson
