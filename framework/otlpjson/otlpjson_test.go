package otlpjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mulletgo/mullet/framework/otlpjson"
)

// receiver is an OTLP/HTTP endpoint that keeps what it is sent.
type receiver struct {
	mu       sync.Mutex
	requests []map[string]any
	headers  []http.Header
	status   int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var doc map[string]any
	if req.URL.Path != "/v1/traces" || json.Unmarshal(body, &doc) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests = append(r.requests, doc)
	r.headers = append(r.headers, req.Header.Clone())
	status := r.status
	r.mu.Unlock()
	if status != 0 {
		http.Error(w, "refused", status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{}`))
}

// TestExport: spans reach the receiver in the OTLP JSON mapping: hex IDs,
// int64 as decimal strings, enums as numbers, typed attribute values,
// grouped by resource and scope.
func TestExport(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	exp := otlpjson.New(srv.URL+"/v1/traces", &otlpjson.Options{Headers: map[string]string{"X-Api-Key": "k"}})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "chat"))))
	tr := tp.Tracer("scope-a")
	ctx, parent := tr.Start(context.Background(), "parent", trace.WithSpanKind(trace.SpanKindServer))
	_, child := tr.Start(ctx, "child", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("s", "v"), attribute.Int("i", 410), attribute.Bool("b", true),
		attribute.Float64("f", 1.5), attribute.StringSlice("ss", []string{"x", "y"})),
		trace.WithLinks(trace.Link{SpanContext: parent.SpanContext()}))
	child.SetStatus(codes.Error, "gone")
	child.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", 2)))
	child.End()
	parent.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rcv.requests) != 2 {
		t.Fatalf("%d requests, want one per span (a syncer)", len(rcv.requests))
	}
	if got := rcv.headers[0].Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	if got := rcv.headers[0].Get("X-Api-Key"); got != "k" {
		t.Errorf("X-Api-Key %q", got)
	}
	span := func(doc map[string]any) map[string]any {
		rs := doc["resourceSpans"].([]any)[0].(map[string]any)
		attrs := rs["resource"].(map[string]any)["attributes"].([]any)
		if attrs[0].(map[string]any)["key"] != "service.name" {
			t.Errorf("resource attributes %v", attrs)
		}
		ss := rs["scopeSpans"].([]any)[0].(map[string]any)
		if ss["scope"].(map[string]any)["name"] != "scope-a" {
			t.Errorf("scope %v", ss["scope"])
		}
		return ss["spans"].([]any)[0].(map[string]any)
	}
	c, p := span(rcv.requests[0]), span(rcv.requests[1])
	hex32, hex16, decimal := regexp.MustCompile(`^[0-9a-f]{32}$`), regexp.MustCompile(`^[0-9a-f]{16}$`), regexp.MustCompile(`^[1-9][0-9]*$`)
	if !hex32.MatchString(c["traceId"].(string)) || !hex16.MatchString(c["spanId"].(string)) || c["traceId"] != p["traceId"] {
		t.Errorf("IDs: child %v %v, parent %v", c["traceId"], c["spanId"], p["traceId"])
	}
	if c["parentSpanId"] != p["spanId"] || p["parentSpanId"] != nil {
		t.Errorf("parentSpanId: child %v, parent's span %v; parent %v", c["parentSpanId"], p["spanId"], p["parentSpanId"])
	}
	if c["kind"] != 3.0 || p["kind"] != 2.0 {
		t.Errorf("kinds %v %v, want 3 (client) and 2 (server)", c["kind"], p["kind"])
	}
	if !decimal.MatchString(c["startTimeUnixNano"].(string)) || !decimal.MatchString(c["endTimeUnixNano"].(string)) {
		t.Errorf("times %v %v", c["startTimeUnixNano"], c["endTimeUnixNano"])
	}
	if st := c["status"].(map[string]any); st["code"] != 2.0 || st["message"] != "gone" {
		t.Errorf("status %v", st)
	}
	want := map[string]string{
		"s": `{"stringValue":"v"}`, "i": `{"intValue":"410"}`, "b": `{"boolValue":true}`, "f": `{"doubleValue":1.5}`,
		"ss": `{"arrayValue":{"values":[{"stringValue":"x"},{"stringValue":"y"}]}}`,
	}
	for _, a := range c["attributes"].([]any) {
		kv := a.(map[string]any)
		v, _ := json.Marshal(kv["value"])
		if w, ok := want[kv["key"].(string)]; !ok || string(v) != w {
			t.Errorf("attribute %s = %s, want %s", kv["key"], v, w)
		}
		delete(want, kv["key"].(string))
	}
	if len(want) != 0 {
		t.Errorf("attributes missing: %v", want)
	}
	links := c["links"].([]any)
	if l := links[0].(map[string]any); l["spanId"] != p["spanId"] || l["traceId"] != p["traceId"] {
		t.Errorf("link %v", l)
	}
	if ev := c["events"].([]any)[0].(map[string]any); ev["name"] != "retry" || !decimal.MatchString(ev["timeUnixNano"].(string)) {
		t.Errorf("event %v", ev)
	}
}

// TestRefused: a collector's refusal is a *StatusError; after Shutdown,
// exports fail with ErrShutdown.
func TestRefused(t *testing.T) {
	rcv := &receiver{status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	exp := otlpjson.New(srv.URL+"/v1/traces", nil)
	tp := sdktrace.NewTracerProvider()
	_, s := tp.Tracer("t").Start(context.Background(), "x")
	s.End()
	spans := []sdktrace.ReadOnlySpan{s.(sdktrace.ReadOnlySpan)}
	var se *otlpjson.StatusError
	if err := exp.ExportSpans(context.Background(), spans); !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("ExportSpans = %v, want a *StatusError 503", err)
	}
	exp.Shutdown(context.Background())
	if err := exp.ExportSpans(context.Background(), spans); !errors.Is(err, otlpjson.ErrShutdown) {
		t.Fatalf("after Shutdown: %v", err)
	}
}

// An exporter for a collector on the same host, as the ADOT Lambda
// layer's, handed to the SDK's batching processor.
func ExampleNew() {
	exp := otlpjson.New("http://localhost:4318/v1/traces", nil)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	defer tp.Shutdown(context.Background())
	_ = tp.Tracer("example")
	// Output:
}
