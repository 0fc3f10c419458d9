package otlpreceiver_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mulletgo/mullet/local/otlpreceiver"
)

// collector gathers what a receiver hands on.
type collector struct {
	mu    sync.Mutex
	spans []otlpreceiver.Span
}

func (c *collector) consume(_ context.Context, s []otlpreceiver.Span) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spans = append(c.spans, s...)
}

func (c *collector) all() []otlpreceiver.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]otlpreceiver.Span(nil), c.spans...)
}

// TestSDKExporter sends real spans with the OpenTelemetry SDK's OTLP/HTTP
// exporter (protobuf, gzip), as a Lambda instance does.
func TestSDKExporter(t *testing.T) {
	var c collector
	srv, err := otlpreceiver.Listen("127.0.0.1:0", c.consume, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(srv.Endpoint+otlpreceiver.TracesPath), otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "chat"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	tr := tp.Tracer("mullet")
	ctx, inv := tr.Start(ctx, "mullet.invocation send", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("mullet.route", "send"), attribute.Int("http.response.status_code", 200), attribute.Bool("mullet.gone", false)))
	_, push := tr.Start(ctx, "mullet.push", trace.WithSpanKind(trace.SpanKindClient))
	push.End()
	inv.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := c.all()
	if len(got) != 2 {
		t.Fatalf("got %d spans, want 2: %+v", len(got), got)
	}
	p, i := got[0], got[1]
	if p.Name != "mullet.push" || i.Name != "mullet.invocation send" {
		t.Fatalf("names %q, %q", p.Name, i.Name)
	}
	if p.TraceID != inv.SpanContext().TraceID().String() || p.ParentSpanID != i.SpanID || i.ParentSpanID != "" || i.SpanID != inv.SpanContext().SpanID().String() {
		t.Errorf("IDs: push %+v, invocation %+v", p, i)
	}
	if i.Kind != 2 || p.Kind != 3 || i.Service != "chat" || i.Scope != "mullet" {
		t.Errorf("kind/service/scope: %+v", i)
	}
	if i.Attributes["mullet.route"] != "send" || i.Attributes["http.response.status_code"] != "200" || i.Attributes["mullet.gone"] != "false" {
		t.Errorf("attributes %v", i.Attributes)
	}
	if i.Start.IsZero() || i.End.Before(i.Start) || p.Start.Before(i.Start) {
		t.Errorf("times: %v..%v, push %v", i.Start, i.End, p.Start)
	}
}

// otlpJSON is an export request in OTLP's JSON mapping, as the
// specification's example writes it.
const otlpJSON = `{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "rendezvous"}}]},
    "scopeSpans": [{
      "scope": {"name": "mullet"},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "mullet.store Arrive",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000,
        "kind": 3,
        "attributes": [
          {"key": "mullet.throttled", "value": {"boolValue": false}},
          {"key": "n", "value": {"intValue": "42"}},
          {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"doubleValue": 1.5}]}}}
        ],
        "links": [{"traceId": "5B8EFFF798038103D269B633813FC60D", "spanId": "EEE19B7EC3C1B175"}],
        "status": {"code": 2, "message": "boom"},
        "someFutureField": 1
      }]
    }]
  }]
}`

func TestJSON(t *testing.T) {
	var c collector
	srv, err := otlpreceiver.Listen("127.0.0.1:0", c.consume, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(otlpJSON))
	zw.Close()
	for _, tc := range []struct {
		name string
		body []byte
		enc  string
	}{{"plain", []byte(otlpJSON), ""}, {"gzip", gz.Bytes(), "gzip"}} {
		t.Run(tc.name, func(t *testing.T) {
			resp := send(t, "POST", srv.Endpoint+otlpreceiver.TracesPath, "application/json", tc.enc, tc.body)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		})
	}
	got := c.all()
	if len(got) != 2 {
		t.Fatalf("got %d spans", len(got))
	}
	s := got[0]
	want := otlpreceiver.Span{
		TraceID: "5b8efff798038103d269b633813fc60c", SpanID: "eee19b7ec3c1b174", ParentSpanID: "eee19b7ec3c1b173",
		Name: "mullet.store Arrive", Kind: 3, StatusCode: 2, StatusMessage: "boom", Service: "rendezvous", Scope: "mullet",
	}
	if s.TraceID != want.TraceID || s.SpanID != want.SpanID || s.ParentSpanID != want.ParentSpanID || s.Name != want.Name ||
		s.Kind != want.Kind || s.StatusCode != want.StatusCode || s.StatusMessage != want.StatusMessage || s.Service != want.Service || s.Scope != want.Scope {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
	if !s.Start.Equal(time.Unix(1544712660, 0)) || s.End.Sub(s.Start) != time.Second {
		t.Errorf("times %v %v", s.Start, s.End)
	}
	if s.Attributes["mullet.throttled"] != "false" || s.Attributes["n"] != "42" || s.Attributes["list"] != `["a",1.5]` {
		t.Errorf("attributes %v", s.Attributes)
	}
	if len(s.Links) != 1 || s.Links[0].TraceID != "5b8efff798038103d269b633813fc60d" {
		t.Errorf("links %+v", s.Links)
	}
}

// send makes one request with the given Content-Type and, if not empty,
// Content-Encoding, and returns its response with the body closed.
func send(t *testing.T, method, url, typ, enc string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", typ)
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestBadRequests(t *testing.T) {
	var c collector
	srv, err := otlpreceiver.Listen("127.0.0.1:0", c.consume, &otlpreceiver.Options{MaxBodyBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range []struct {
		name, method, path, typ, enc, body string
		status                             int
	}{
		{"not JSON", "POST", "/v1/traces", "application/json", "", "{", 400},
		{"ID not hex", "POST", "/v1/traces", "application/json", "", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`, 400},
		{"not protobuf", "POST", "/v1/traces", "application/x-protobuf", "", "\xff\xff\xff", 400},
		{"other type", "POST", "/v1/traces", "text/plain", "", "hi", 415},
		{"other encoding", "POST", "/v1/traces", "application/json", "br", "{}", 415},
		{"too large", "POST", "/v1/traces", "application/json", "", `{"x":"` + strings.Repeat("a", 2000) + `"}`, 413},
		{"GET", "GET", "/v1/traces", "", "", "", 405},
		{"other path", "POST", "/v1/metrics", "application/json", "", "{}", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := send(t, tc.method, srv.Endpoint+tc.path, tc.typ, tc.enc, []byte(tc.body))
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	if n := len(c.all()); n != 0 {
		t.Errorf("%d spans from bad requests", n)
	}
	if _, err := otlpreceiver.Decode("application/json", []byte("[")); !errors.Is(err, otlpreceiver.ErrBadRequest) {
		t.Errorf("Decode: %v", err)
	}
}
