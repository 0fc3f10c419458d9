package otlpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Options configures an Exporter. nil means defaults; the caller's struct
// is never modified.
type Options struct {
	// Headers are added to every request, e.g. an API key of a hosted
	// collector.
	Headers map[string]string
	// Client sends the requests. nil: a client with a 10 s timeout.
	Client *http.Client
}

// Exporter is a sdktrace.SpanExporter that posts spans as OTLP/HTTP JSON.
// It is safe for concurrent use.
type Exporter struct {
	url     string
	headers map[string]string
	client  *http.Client

	mu       sync.Mutex
	shutdown bool
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// ErrShutdown is returned by ExportSpans after Shutdown.
var ErrShutdown = errors.New("otlpjson: the exporter is shut down")

// StatusError is a collector's refusal of an export.
type StatusError struct {
	StatusCode int
	Body       string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("otlpjson: the collector answered %d: %s", e.StatusCode, e.Body)
}

// New returns an Exporter that posts to url, the full traces endpoint
// (e.g. http://127.0.0.1:4318/v1/traces).
func New(url string, opts *Options) *Exporter {
	var o Options
	if opts != nil {
		o = *opts
	}
	e := &Exporter{url: url, client: o.Client, headers: make(map[string]string, len(o.Headers))}
	for k, v := range o.Headers {
		e.headers[k] = v
	}
	if e.client == nil {
		e.client = &http.Client{Timeout: 10 * time.Second}
	}
	return e
}

// ExportSpans posts spans in one request.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	down := e.shutdown
	e.mu.Unlock()
	if down {
		return ErrShutdown
	}
	if len(spans) == 0 {
		return nil
	}
	body, err := json.Marshal(Encode(spans))
	if err != nil {
		return fmt.Errorf("otlpjson: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("otlpjson: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range e.headers {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("otlpjson: export: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		return &StatusError{StatusCode: resp.StatusCode, Body: string(msg)}
	}
	return nil
}

// Shutdown stops the exporter; later exports fail with ErrShutdown.
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.shutdown = true
	e.mu.Unlock()
	return nil
}

// The OTLP JSON document: ExportTraceServiceRequest.

// Request is an ExportTraceServiceRequest.
type Request struct {
	ResourceSpans []ResourceSpans `json:"resourceSpans"`
}

// ResourceSpans are the spans of one resource.
type ResourceSpans struct {
	Resource   Resource     `json:"resource"`
	ScopeSpans []ScopeSpans `json:"scopeSpans"`
}

// Resource is the entity that produced the spans.
type Resource struct {
	Attributes []KeyValue `json:"attributes,omitempty"`
}

// ScopeSpans are the spans of one instrumentation scope.
type ScopeSpans struct {
	Scope Scope  `json:"scope"`
	Spans []Span `json:"spans"`
}

// Scope is an instrumentation scope.
type Scope struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Span is one span.
type Span struct {
	TraceID           string     `json:"traceId"`
	SpanID            string     `json:"spanId"`
	TraceState        string     `json:"traceState,omitempty"`
	ParentSpanID      string     `json:"parentSpanId,omitempty"`
	Flags             uint32     `json:"flags,omitempty"`
	Name              string     `json:"name"`
	Kind              int        `json:"kind"`
	StartTimeUnixNano string     `json:"startTimeUnixNano"`
	EndTimeUnixNano   string     `json:"endTimeUnixNano"`
	Attributes        []KeyValue `json:"attributes,omitempty"`
	Events            []Event    `json:"events,omitempty"`
	Links             []Link     `json:"links,omitempty"`
	Status            Status     `json:"status"`
}

// Event is a span event.
type Event struct {
	TimeUnixNano string     `json:"timeUnixNano"`
	Name         string     `json:"name"`
	Attributes   []KeyValue `json:"attributes,omitempty"`
}

// Link is a link to another span.
type Link struct {
	TraceID    string     `json:"traceId"`
	SpanID     string     `json:"spanId"`
	TraceState string     `json:"traceState,omitempty"`
	Attributes []KeyValue `json:"attributes,omitempty"`
}

// Status is a span's status: code 0 unset, 1 ok, 2 error.
type Status struct {
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// KeyValue is an attribute.
type KeyValue struct {
	Key   string   `json:"key"`
	Value AnyValue `json:"value"`
}

// AnyValue is an attribute's value; exactly one member is set.
type AnyValue struct {
	StringValue *string     `json:"stringValue,omitempty"`
	BoolValue   *bool       `json:"boolValue,omitempty"`
	IntValue    *string     `json:"intValue,omitempty"`
	DoubleValue *float64    `json:"doubleValue,omitempty"`
	ArrayValue  *ArrayValue `json:"arrayValue,omitempty"`
}

// ArrayValue is an array attribute's values.
type ArrayValue struct {
	Values []AnyValue `json:"values"`
}

// Encode maps spans to an OTLP request, grouped by resource and scope.
func Encode(spans []sdktrace.ReadOnlySpan) Request {
	var req Request
	type scopeKey struct {
		res   int
		scope string
	}
	resIndex := map[string]int{}
	scopeIndex := map[scopeKey]int{}
	for _, s := range spans {
		rk := ""
		var rattrs []attribute.KeyValue
		if r := s.Resource(); r != nil {
			rk = r.Encoded(attribute.DefaultEncoder())
			rattrs = r.Attributes()
		}
		ri, ok := resIndex[rk]
		if !ok {
			ri = len(req.ResourceSpans)
			resIndex[rk] = ri
			req.ResourceSpans = append(req.ResourceSpans, ResourceSpans{Resource: Resource{Attributes: keyValues(rattrs)}})
		}
		sc := s.InstrumentationScope()
		sk := scopeKey{ri, sc.Name + "\x00" + sc.Version}
		si, ok := scopeIndex[sk]
		if !ok {
			rs := &req.ResourceSpans[ri]
			si = len(rs.ScopeSpans)
			scopeIndex[sk] = si
			rs.ScopeSpans = append(rs.ScopeSpans, ScopeSpans{Scope: Scope{Name: sc.Name, Version: sc.Version}})
		}
		ss := &req.ResourceSpans[ri].ScopeSpans[si]
		ss.Spans = append(ss.Spans, encodeSpan(s))
	}
	return req
}

func encodeSpan(s sdktrace.ReadOnlySpan) Span {
	sc := s.SpanContext()
	out := Span{
		TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String(), TraceState: sc.TraceState().String(),
		Flags: uint32(sc.TraceFlags()), Name: s.Name(), Kind: kind(s.SpanKind()),
		StartTimeUnixNano: nanos(s.StartTime()), EndTimeUnixNano: nanos(s.EndTime()),
		Attributes: keyValues(s.Attributes()),
	}
	if p := s.Parent(); p.IsValid() {
		out.ParentSpanID = p.SpanID().String()
	}
	for _, ev := range s.Events() {
		out.Events = append(out.Events, Event{TimeUnixNano: nanos(ev.Time), Name: ev.Name, Attributes: keyValues(ev.Attributes)})
	}
	for _, l := range s.Links() {
		out.Links = append(out.Links, Link{TraceID: l.SpanContext.TraceID().String(), SpanID: l.SpanContext.SpanID().String(),
			TraceState: l.SpanContext.TraceState().String(), Attributes: keyValues(l.Attributes)})
	}
	switch st := s.Status(); st.Code {
	case codes.Ok:
		out.Status = Status{Code: 1}
	case codes.Error:
		out.Status = Status{Code: 2, Message: st.Description}
	}
	return out
}

// kind maps a span kind to OTLP's enum (SPAN_KIND_INTERNAL is 1).
func kind(k trace.SpanKind) int {
	switch k {
	case trace.SpanKindInternal:
		return 1
	case trace.SpanKindServer:
		return 2
	case trace.SpanKindClient:
		return 3
	case trace.SpanKindProducer:
		return 4
	case trace.SpanKindConsumer:
		return 5
	}
	return 0
}

func nanos(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

func keyValues(attrs []attribute.KeyValue) []KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]KeyValue, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, KeyValue{Key: string(a.Key), Value: anyValue(a.Value)})
	}
	return out
}

// array is the OTLP array of xs, each converted by one.
func array[T any](xs []T, one func(T) AnyValue) AnyValue {
	arr := ArrayValue{Values: make([]AnyValue, 0, len(xs))}
	for _, x := range xs {
		arr.Values = append(arr.Values, one(x))
	}
	return AnyValue{ArrayValue: &arr}
}

func anyValue(v attribute.Value) AnyValue {
	str := func(s string) AnyValue { return AnyValue{StringValue: &s} }
	integer := func(i int64) AnyValue { s := strconv.FormatInt(i, 10); return AnyValue{IntValue: &s} }
	switch v.Type() {
	case attribute.BOOL:
		b := v.AsBool()
		return AnyValue{BoolValue: &b}
	case attribute.INT64:
		return integer(v.AsInt64())
	case attribute.FLOAT64:
		f := v.AsFloat64()
		return AnyValue{DoubleValue: &f}
	case attribute.STRING:
		return str(v.AsString())
	case attribute.BOOLSLICE:
		return array(v.AsBoolSlice(), func(b bool) AnyValue { return AnyValue{BoolValue: &b} })
	case attribute.INT64SLICE:
		return array(v.AsInt64Slice(), integer)
	case attribute.FLOAT64SLICE:
		return array(v.AsFloat64Slice(), func(f float64) AnyValue { return AnyValue{DoubleValue: &f} })
	case attribute.STRINGSLICE:
		return array(v.AsStringSlice(), str)
	}
	return str(v.Emit())
}
