package framework_test

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mulletgo/mullet/framework"
)

// Tracing and metrics: any trace.TracerProvider traces the invocations,
// and Metrics gets one CloudWatch EMF line per invocation. A frame's
// $traceparent makes the invocation a child of the client's span.
func ExampleRuntime_observability() {
	app := framework.New[struct{}]("hello", nil)
	framework.Handle(app, "greet", func(ctx context.Context, c *framework.Conn[struct{}], g Greeting) error {
		return c.ReplyText(ctx, "hello, "+g.Name)
	}, &framework.RouteOptions{TwoWay: true})

	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	fn := app.Bind(&framework.Runtime{TracerProvider: tp, Metrics: os.Stderr})

	ev := &events.APIGatewayWebsocketProxyRequest{
		Body: `{"action":"greet","name":"ann","$traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`,
	}
	ev.RequestContext.EventType, ev.RequestContext.RouteKey = "MESSAGE", "greet"
	ev.RequestContext.ConnectionID, ev.RequestContext.RequestID = "R1kmxc2VNjMCFIA=", "R1knPH17NjMFftw="
	fn.Invoke(context.Background(), ev)

	for _, s := range spans.GetSpans() {
		fmt.Println(s.Name, s.SpanContext.TraceID(), "parent", s.Parent.SpanID())
	}
	// Output:
	// mullet.invocation greet 4bf92f3577b34da6a3ce929d0e0e4736 parent 00f067aa0ba902b7
}
