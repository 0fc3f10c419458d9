package runtimeenv

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mulletgo/mullet/framework/otlpjson"
)

// Observability: MULLET_METRICS is mullet's; the OTEL_* names are
// OpenTelemetry's own (its SDK environment variable specification).
const (
	// Metrics set to "emf" makes a Lambda function write one CloudWatch
	// Embedded Metric Format line per invocation to stdout (package
	// framework/emf). Off by default: every metric CloudWatch extracts is
	// a custom metric, billed per metric and month. infra/ sets it when
	// Observability.Metrics is on.
	Metrics = "MULLET_METRICS"
	// MetricsEMF is the value of Metrics that turns EMF lines on.
	MetricsEMF = "emf"

	// OTelSDKDisabled set to "true" turns tracing off, whatever else is set.
	OTelSDKDisabled = "OTEL_SDK_DISABLED"
	// OTelTracesExporter set to "otlp" turns tracing on (to the default
	// endpoint, http://localhost:4318/v1/traces, if no endpoint is set);
	// "none" turns it off.
	OTelTracesExporter = "OTEL_TRACES_EXPORTER"
	// OTelEndpoint is the OTLP/HTTP base URL; traces go to its
	// /v1/traces. Setting it turns tracing on.
	OTelEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"
	// OTelTracesEndpoint is the full traces URL, used as it is. Setting
	// it turns tracing on.
	OTelTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	// OTelHeaders and OTelTracesHeaders are request headers,
	// "key1=value1,key2=value2".
	OTelHeaders       = "OTEL_EXPORTER_OTLP_HEADERS"
	OTelTracesHeaders = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	// OTelServiceName names the service in the spans' resource. Default:
	// the Lambda function's name (AWS_LAMBDA_FUNCTION_NAME), else the
	// app's.
	OTelServiceName = "OTEL_SERVICE_NAME"

	// DefaultTracesEndpoint is where traces go when OTEL_TRACES_EXPORTER
	// is otlp and no endpoint is set: a collector on the same host, such
	// as the ADOT Lambda layer's.
	DefaultTracesEndpoint = "http://localhost:4318/v1/traces"
)

// TracesEndpoint returns the OTLP/HTTP traces URL the environment asks
// for, and whether tracing is on: it is when OTEL_TRACES_EXPORTER is
// "otlp" or an OTLP endpoint is set, unless OTEL_SDK_DISABLED is "true"
// or OTEL_TRACES_EXPORTER is "none".
func TracesEndpoint(getenv func(string) string) (string, bool) {
	if strings.EqualFold(strings.TrimSpace(getenv(OTelSDKDisabled)), "true") {
		return "", false
	}
	exporter := strings.ToLower(strings.TrimSpace(getenv(OTelTracesExporter)))
	if exporter == "none" {
		return "", false
	}
	if u := strings.TrimSpace(getenv(OTelTracesEndpoint)); u != "" {
		return u, true
	}
	if u := strings.TrimSpace(getenv(OTelEndpoint)); u != "" {
		return strings.TrimRight(u, "/") + "/v1/traces", true
	}
	if exporter == "otlp" {
		return DefaultTracesEndpoint, true
	}
	return "", false
}

// NewTracerProvider returns the tracer provider the environment asks for
// (see TracesEndpoint), exporting OTLP/HTTP JSON with a batching
// processor, or nil if tracing is off. The caller owns it: it flushes it
// (in Lambda, at the end of every invocation, before the process is
// frozen) and shuts it down. It sets no global provider.
func NewTracerProvider(getenv func(string) string, app string) *sdktrace.TracerProvider {
	url, ok := TracesEndpoint(getenv)
	if !ok {
		return nil
	}
	headers := parseHeaders(getenv(OTelHeaders))
	for k, v := range parseHeaders(getenv(OTelTracesHeaders)) {
		headers[k] = v
	}
	name := getenv(OTelServiceName)
	if name == "" {
		name = getenv("AWS_LAMBDA_FUNCTION_NAME")
	}
	if name == "" {
		name = app
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name), attribute.String("mullet.app", app)}
	if fn := getenv("AWS_LAMBDA_FUNCTION_NAME"); fn != "" {
		attrs = append(attrs, attribute.String("cloud.provider", "aws"), attribute.String("cloud.platform", "aws_lambda"),
			attribute.String("faas.name", fn), attribute.String("faas.version", getenv("AWS_LAMBDA_FUNCTION_VERSION")),
			attribute.String("cloud.region", getenv("AWS_REGION")))
	}
	exp := otlpjson.New(url, &otlpjson.Options{Headers: headers})
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
	)
}

// parseHeaders reads "key1=value1,key2=value2"; values may be
// percent-encoded, as the specification allows, and are used as they are.
func parseHeaders(s string) map[string]string {
	h := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if k = strings.TrimSpace(k); ok && k != "" {
			h[k] = strings.TrimSpace(v)
		}
	}
	return h
}
