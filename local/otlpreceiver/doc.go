// Package otlpreceiver is a small OpenTelemetry trace receiver for local
// development: it accepts OTLP/HTTP export requests (POST /v1/traces) in
// both of the protocol's encodings, binary protobuf
// (application/x-protobuf) and the JSON mapping (application/json),
// optionally gzip-compressed, and hands the decoded spans to a function.
// mullet dev runs one on 127.0.0.1 and points its Lambda instances at it
// through OTEL_EXPORTER_OTLP_ENDPOINT, so that the dashboard can draw the
// spans of each frame.
//
// It is a dev-time package: it never ships in a Lambda binary.
package otlpreceiver
