package framework

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/mulletgo/mullet/framework/emf"
	"github.com/mulletgo/mullet/store"
)

// TracerName is the instrumentation scope of the framework's spans.
const TracerName = "github.com/mulletgo/mullet/framework"

// The span names and attributes of the framework (docs/observability.md).
const (
	// SpanInvocation is the prefix of an invocation's span name, followed
	// by the route served: "mullet.invocation send".
	SpanInvocation = "mullet.invocation"
	// SpanStore is the prefix of a store call's span name, followed by the
	// operation: "mullet.store GroupMembers".
	SpanStore = "mullet.store"
	// SpanPush is the span of one @connections post (PostToConnection).
	SpanPush = "mullet.push"
	// SpanDelete is the span of one @connections DeleteConnection.
	SpanDelete = "mullet.delete"
	// SpanInfo is the span of one @connections GetConnection.
	SpanInfo = "mullet.info"
	// SpanBroadcast is the prefix of a broadcast's span, followed by the
	// group: "mullet.broadcast room-1". Its pushes are its children.
	SpanBroadcast = "mullet.broadcast"
	// SpanBarrierRelease is the prefix of a barrier release's span,
	// followed by the barrier's name. Its pushes are its children.
	SpanBarrierRelease = "mullet.barrier.release"

	// TraceParentField and TraceStateField are the optional top-level
	// members of a JSON frame that carry the W3C trace context of the
	// client's span (docs/protocol.md): the invocation continues it.
	TraceParentField = "$traceparent"
	TraceStateField  = "$tracestate"
)

// observation is what one observed invocation counts, and its tracer
// (nil when only metrics are on). It travels in the invocation's context,
// and only when the Runtime observes (tracing or metrics): without either
// nothing is allocated and every check is one context lookup.
type observation struct {
	tracer trace.Tracer
	route  atomic.Pointer[string]

	pushes, gone, throttles, releases, timeouts, replays atomic.Int32
}

type observationKey struct{}

func observationFrom(ctx context.Context) *observation {
	o, _ := ctx.Value(observationKey{}).(*observation)
	return o
}

// noteReplay counts a message replayed to a resuming client.
func noteReplay(ctx context.Context) {
	if o := observationFrom(ctx); o != nil {
		o.replays.Add(1)
	}
}

// noteThrottle counts a throttled store or @connections call.
func noteThrottle(ctx context.Context) {
	if o := observationFrom(ctx); o != nil {
		o.throttles.Add(1)
	}
}

// traced reports whether ctx is an invocation's that is traced. Check it
// before building a span's attributes: they cost allocations.
func traced(ctx context.Context) bool {
	o := observationFrom(ctx)
	return o != nil && o.tracer != nil
}

// endNothing is the end of a span that was not started.
func endNothing(error) {}

// startSpan starts an internal span named name+" "+detail if the
// invocation is traced. end must be called; it records err.
func startSpan(ctx context.Context, name, detail string, attrs ...attribute.KeyValue) (context.Context, func(err error)) {
	o := observationFrom(ctx)
	if o == nil || o.tracer == nil {
		return ctx, endNothing
	}
	ctx, span := o.tracer.Start(ctx, name+" "+detail, trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// observeCall wraps one @connections call: it counts pushes, gone
// connections and throttles, and traces the call as a client span.
func observeCall(ctx context.Context, name, id string, okStatus int, call func(ctx context.Context) error) error {
	o := observationFrom(ctx)
	if o == nil {
		return call(ctx)
	}
	if name == SpanPush {
		o.pushes.Add(1)
	}
	var span trace.Span
	if o.tracer != nil {
		ctx, span = o.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("mullet.connection_id", id)))
	}
	err := call(ctx)
	if errors.Is(err, ErrGone) {
		o.gone.Add(1)
	}
	if span != nil {
		status := okStatus
		var resp *awshttp.ResponseError
		switch {
		case errors.As(err, &resp):
			status = resp.HTTPStatusCode()
		case errors.Is(err, ErrGone):
			status = http.StatusGone
		case errors.Is(err, ErrThrottled):
			status = http.StatusTooManyRequests
		case err != nil:
			status = 0
		}
		if status != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", status))
		}
		switch {
		case errors.Is(err, ErrGone):
			span.SetAttributes(attribute.Bool("mullet.gone", true))
		case errors.Is(err, ErrThrottled):
			span.SetAttributes(attribute.Bool("mullet.throttled", true))
			span.SetStatus(codes.Error, err.Error())
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
	return err
}

// observer is the bound Runtime's tracing and metrics, nil fields off.
type observer struct {
	tracer  trace.Tracer
	metrics *emf.Writer
	// warm is set after the first observed invocation (faas.coldstart).
	warm atomic.Bool
}

// invoke serves event through serve, observed: one span for the
// invocation (continuing the frame's $traceparent, the $connect request's
// traceparent header, or the span in ctx) and one EMF line.
func (ob *observer) invoke(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest, now func() time.Time,
	serve func(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)) (events.APIGatewayProxyResponse, error) {
	start := now()
	o := &observation{tracer: ob.tracer}
	ctx = context.WithValue(ctx, observationKey{}, o)
	rc := &event.RequestContext
	route := rc.RouteKey
	if route == "" {
		route = rc.EventType
	}
	var span trace.Span
	if ob.tracer != nil {
		opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("mullet.connection_id", rc.ConnectionID),
			attribute.String("mullet.request_id", rc.RequestID),
			attribute.Bool("faas.coldstart", !ob.warm.Swap(true)),
		)}
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			opts = append(opts, trace.WithAttributes(attribute.String("faas.invocation_id", lc.AwsRequestID)))
		}
		if client, ok := clientTraceContext(event); ok {
			// The client's span is the parent; the span the caller
			// started, e.g. from Lambda's X-Ray header, is linked.
			if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
				opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
			}
			ctx = trace.ContextWithRemoteSpanContext(ctx, client)
		}
		ctx, span = ob.tracer.Start(ctx, SpanInvocation+" "+route, opts...)
	}
	resp, err := serve(ctx, event)
	if p := o.route.Load(); p != nil {
		route = *p
	}
	if span != nil {
		status := resp.StatusCode
		if err != nil {
			status = http.StatusInternalServerError
		}
		span.SetName(SpanInvocation + " " + route)
		span.SetAttributes(attribute.String("mullet.route", route), attribute.Int("mullet.status", status))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
	if ob.metrics != nil {
		// A metrics write error must not fail the invocation.
		_ = ob.metrics.Record(emf.Invocation{
			Route: route, Duration: now().Sub(start), Error: err != nil || resp.StatusCode >= 500,
			Pushes: int(o.pushes.Load()), Gone: int(o.gone.Load()), Throttles: int(o.throttles.Load()),
			Releases: int(o.releases.Load()), Timeouts: int(o.timeouts.Load()), Replays: int(o.replays.Load()),
		})
	}
	return resp, err
}

// noteRoute records the route that serves an observed invocation.
func noteRoute(ctx context.Context, route string) {
	if o := observationFrom(ctx); o != nil {
		o.route.Store(&route)
	}
}

// clientTraceContext returns the client's W3C trace context: a frame's
// $traceparent (and $tracestate) members, or the traceparent (and
// tracestate) headers of a $connect request.
func clientTraceContext(event *events.APIGatewayWebsocketProxyRequest) (trace.SpanContext, bool) {
	carrier := propagation.MapCarrier{}
	if event.RequestContext.EventType == "CONNECT" || event.RequestContext.RouteKey == "$connect" {
		for k, v := range event.Headers {
			switch strings.ToLower(k) {
			case "traceparent":
				carrier["traceparent"] = v
			case "tracestate":
				carrier["tracestate"] = v
			}
		}
	} else if !event.IsBase64Encoded {
		parent, state := frameTraceContext([]byte(event.Body))
		if parent == "" {
			return trace.SpanContext{}, false
		}
		carrier["traceparent"], carrier["tracestate"] = parent, state
	}
	if carrier["traceparent"] == "" {
		return trace.SpanContext{}, false
	}
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier))
	return sc, sc.IsValid()
}

// frameTraceContext returns the $traceparent and $tracestate members of a
// JSON frame, "" if it has none.
func frameTraceContext(body []byte) (parent, state string) {
	if !bytes.Contains(body, []byte(`"`+TraceParentField+`"`)) {
		return "", ""
	}
	var v struct {
		Parent string `json:"$traceparent"`
		State  string `json:"$tracestate"`
	}
	if json.Unmarshal(body, &v) != nil || len(v.Parent) > 128 || len(v.State) > 512 {
		return "", ""
	}
	return v.Parent, v.State
}

// endStoreSpan ends a store call's span. The store's expected outcomes
// (not found, a lost condition, a full barrier) are attributes, not
// errors.
func endStoreSpan(span trace.Span, err error) {
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		span.SetAttributes(attribute.String("mullet.store.outcome", "not_found"))
	case errors.Is(err, store.ErrConflict):
		span.SetAttributes(attribute.String("mullet.store.outcome", "conflict"))
	case errors.Is(err, store.ErrBarrierFull):
		span.SetAttributes(attribute.String("mullet.store.outcome", "barrier_full"))
	default:
		if errors.Is(err, store.ErrThrottled) {
			span.SetAttributes(attribute.Bool("mullet.throttled", true))
		}
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
