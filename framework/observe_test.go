package framework_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/store/memstore"
)

// throttlingAPI answers 429 (LimitExceededException) for one connection.
type throttlingAPI struct {
	*fakeAPI
	throttled string
}

func (a throttlingAPI) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, o ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	if *in.ConnectionId == a.throttled {
		return nil, &types.LimitExceededException{}
	}
	return a.fakeAPI.PostToConnection(ctx, in, o...)
}

func observedEvent(eventType, route, id, body string) *events.APIGatewayWebsocketProxyRequest {
	ev := &events.APIGatewayWebsocketProxyRequest{Body: body}
	ev.RequestContext = events.APIGatewayWebsocketProxyRequestContext{
		RouteKey: route, EventType: eventType, ConnectionID: id, RequestID: "req-" + id + "-" + route,
		DomainName: "example.execute-api.us-east-1.amazonaws.com", Stage: "prod", ConnectedAt: time.Now().UnixMilli(),
	}
	return ev
}

// TestObservedInvocations: with a TracerProvider and Metrics, a broadcast
// to a group with a gone and a throttled member, and a barrier release,
// give the spans and the EMF counts they should: 410 and 429 on their push
// spans, the release's pushes under its span, and per invocation one line.
func TestObservedInvocations(t *testing.T) {
	app := framework.New[struct{}]("obs", nil)
	framework.Handle(app, "join", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		return c.Join(ctx, "g")
	}, nil)
	framework.Handle(app, "shout", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		_, err := c.BroadcastText(ctx, "g", "hi")
		_ = err // a throttled member is reported; the test counts it
		return nil
	}, nil)
	b := framework.NewBarrier(app, "pair", func(to framework.Participant[string], others []framework.Participant[string]) any {
		return "go"
	}, nil)
	framework.Handle(app, "arrive", func(ctx context.Context, c *framework.Conn[struct{}], m pairMsg) error {
		_, err := b.Arrive(ctx, c, m.Key, "")
		return err
	}, nil)
	api := throttlingAPI{fakeAPI: newFakeAPI(), throttled: "C3"}
	cb := framework.NewCallbackWithAPI(func(string) framework.CallbackAPI { return api }, &framework.CallbackOptions{MaxAttempts: 2, BaseBackoff: time.Millisecond})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	var metrics bytes.Buffer
	inv := app.Bind(&framework.Runtime{Store: memstore.New(nil), Callback: cb, TracerProvider: tp, Metrics: &metrics})
	ctx := context.Background()
	for _, id := range []string{"C1", "C2", "C3", "C4"} {
		inv.Invoke(ctx, observedEvent("CONNECT", "$connect", id, ""))
		inv.Invoke(ctx, observedEvent("MESSAGE", "join", id, `{"action":"join"}`))
	}
	api.setGone("C2")
	metrics.Reset()
	exp.Reset()
	inv.Invoke(ctx, observedEvent("MESSAGE", "shout", "C1", `{"action":"shout"}`))
	inv.Invoke(ctx, observedEvent("MESSAGE", "arrive", "C1", `{"action":"arrive","key":"k"}`))
	inv.Invoke(ctx, observedEvent("MESSAGE", "arrive", "C4", `{"action":"arrive","key":"k"}`))

	var lines []map[string]any
	sc := bufio.NewScanner(&metrics)
	for sc.Scan() {
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, doc)
	}
	if len(lines) != 3 {
		t.Fatalf("%d EMF lines for 3 invocations", len(lines))
	}
	for i, want := range []map[string]float64{
		{"Pushes": 4, "Gone": 1, "Throttles": 2, "BarrierReleases": 0},
		{"Pushes": 0, "Gone": 0, "Throttles": 0, "BarrierReleases": 0},
		{"Pushes": 2, "Gone": 0, "Throttles": 0, "BarrierReleases": 1},
	} {
		for k, v := range want {
			if lines[i][k] != v {
				t.Errorf("line %d (%s): %s = %v, want %v", i, lines[i]["Route"], k, lines[i][k], v)
			}
		}
	}

	spans := exp.GetSpans().Snapshots()
	byID := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID().String()] = s
	}
	attr := func(s sdktrace.ReadOnlySpan, key string) string {
		for _, a := range s.Attributes() {
			if string(a.Key) == key {
				return a.Value.Emit()
			}
		}
		return ""
	}
	var gone, throttled, released int
	for _, s := range spans {
		if s.Name() != framework.SpanPush {
			continue
		}
		switch attr(s, "mullet.connection_id") {
		case "C2":
			gone++
			if attr(s, "http.response.status_code") != "410" || attr(s, "mullet.gone") != "true" {
				t.Errorf("the push to the gone member: %v", s.Attributes())
			}
		case "C3":
			throttled++
			if attr(s, "http.response.status_code") != "429" || attr(s, "mullet.throttled") != "true" {
				t.Errorf("the push to the throttled member: %v", s.Attributes())
			}
		}
		if p, ok := byID[s.Parent().SpanID().String()]; ok && p.Name() == framework.SpanBarrierRelease+" pair" {
			released++
		}
	}
	if gone != 1 || throttled != 1 || released != 2 {
		t.Errorf("push spans: %d to the gone member, %d to the throttled one, %d under the release; want 1, 1, 2", gone, throttled, released)
	}
}

// BenchmarkDispatchTraced is BenchmarkDispatch with a tracer provider that
// records (no export) and metrics to a discarding writer: what observing
// costs per frame.
func BenchmarkDispatchTraced(b *testing.B) {
	app := newTestApp(false)
	tp := sdktrace.NewTracerProvider()
	inv := app.Bind(&framework.Runtime{Store: memstore.New(nil), TracerProvider: tp, Metrics: discard{}})
	ctx := context.Background()
	ev := benchEvent("echo", `{"action":"echo","text":"hello"}`, "R1kmxc2VNjMCFIA=")
	b.ReportAllocs()
	for b.Loop() {
		if resp, _ := inv.Invoke(ctx, ev); resp.StatusCode != 200 {
			b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestConnectTraceparentHeader: on $connect the client's trace context may
// come as a traceparent header of the upgrade request, in any case.
func TestConnectTraceparentHeader(t *testing.T) {
	app := framework.New[struct{}]("obs", nil)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	inv := app.Bind(&framework.Runtime{Store: memstore.New(nil), TracerProvider: tp})
	ev := observedEvent("CONNECT", "$connect", "C1", "")
	ev.Headers = map[string]string{"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	if resp, err := inv.Invoke(context.Background(), ev); err != nil || resp.StatusCode != 200 {
		t.Fatalf("$connect: %v %v", resp.StatusCode, err)
	}
	var found bool
	for _, s := range exp.GetSpans() {
		if s.Name == framework.SpanInvocation+" $connect" {
			found = true
			if s.Parent.SpanID().String() != "00f067aa0ba902b7" || s.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
				t.Errorf("the $connect span's parent %v in trace %v", s.Parent.SpanID(), s.SpanContext.TraceID())
			}
		}
		if s.Name == framework.SpanStore+" PutConnection" && s.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("the store call is outside the client's trace")
		}
	}
	if !found {
		t.Fatal("no $connect span")
	}
}
