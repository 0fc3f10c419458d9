package otlpreceiver

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Span is one span as the receiver decoded it, whichever the encoding.
type Span struct {
	// TraceID, SpanID and ParentSpanID are lowercase hex; ParentSpanID is
	// "" for a root span.
	TraceID      string `json:"traceId"`
	SpanID       string `json:"spanId"`
	ParentSpanID string `json:"parentSpanId,omitempty"`
	Name         string `json:"name"`
	// Kind is OTLP's SpanKind: 1 internal, 2 server, 3 client, 4
	// producer, 5 consumer (0 unspecified).
	Kind  int       `json:"kind"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Attributes are the span's attributes, each value in its text form
	// (numbers and booleans as Go prints them, arrays and maps as JSON).
	Attributes map[string]string `json:"attributes,omitempty"`
	// StatusCode is OTLP's: 0 unset, 1 ok, 2 error.
	StatusCode    int     `json:"statusCode,omitempty"`
	StatusMessage string  `json:"statusMessage,omitempty"`
	Events        []Event `json:"events,omitempty"`
	Links         []Link  `json:"links,omitempty"`
	// Service is the resource's service.name.
	Service string `json:"service,omitempty"`
	// Scope is the instrumentation scope's name.
	Scope string `json:"scope,omitempty"`
}

// Event is a span event.
type Event struct {
	Name       string            `json:"name"`
	Time       time.Time         `json:"time"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Link is a span's link to another span.
type Link struct {
	TraceID    string            `json:"traceId"`
	SpanID     string            `json:"spanId"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// fromProto converts the spans of one export request.
func fromProto(rss []*tracepb.ResourceSpans) []Span {
	var out []Span
	for _, rs := range rss {
		service := attrs(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			scope := ss.GetScope().GetName()
			for _, s := range ss.GetSpans() {
				sp := Span{
					TraceID:       hexID(s.GetTraceId()),
					SpanID:        hexID(s.GetSpanId()),
					ParentSpanID:  hexID(s.GetParentSpanId()),
					Name:          s.GetName(),
					Kind:          int(s.GetKind()),
					Start:         unixNano(s.GetStartTimeUnixNano()),
					End:           unixNano(s.GetEndTimeUnixNano()),
					Attributes:    attrs(s.GetAttributes()),
					StatusCode:    int(s.GetStatus().GetCode()),
					StatusMessage: s.GetStatus().GetMessage(),
					Service:       service,
					Scope:         scope,
				}
				for _, e := range s.GetEvents() {
					sp.Events = append(sp.Events, Event{Name: e.GetName(), Time: unixNano(e.GetTimeUnixNano()), Attributes: attrs(e.GetAttributes())})
				}
				for _, l := range s.GetLinks() {
					sp.Links = append(sp.Links, Link{TraceID: hexID(l.GetTraceId()), SpanID: hexID(l.GetSpanId()), Attributes: attrs(l.GetAttributes())})
				}
				out = append(out, sp)
			}
		}
	}
	return out
}

func hexID(b []byte) string {
	for _, c := range b {
		if c != 0 {
			return hex.EncodeToString(b)
		}
	}
	return "" // absent, or all zero: invalid, as the spec says
}

func unixNano(n uint64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = valueText(kv.GetValue())
	}
	return m
}

// valueText is an attribute value's text form.
func valueText(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue, *commonpb.AnyValue_KvlistValue:
		b, _ := json.Marshal(valueAny(v))
		return string(b)
	}
	return ""
}

// valueAny is an attribute value as a JSON-encodable Go value.
func valueAny(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return x.BytesValue
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, valueAny(e))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		out := make(map[string]any, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			out[kv.GetKey()] = valueAny(kv.GetValue())
		}
		return out
	}
	return nil
}
