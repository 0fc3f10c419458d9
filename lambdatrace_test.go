package mullet

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// TestXRayParent: a sampled X-Ray header, from the context aws-lambda-go
// builds or from _X_AMZN_TRACE_ID, becomes the invocation's remote parent;
// an unsampled one does not (a parent-based sampler would drop the trace).
func TestXRayParent(t *testing.T) {
	const sampled = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", sampled)
	sc := trace.SpanContextFromContext(xrayParent(ctx, ""))
	if sc.TraceID().String() != "5759e988bd862e3fe1be46a994272793" || sc.SpanID().String() != "53995c3f42cd8ad8" || !sc.IsRemote() {
		t.Errorf("from the context: %v %v", sc.TraceID(), sc.SpanID())
	}
	if sc := trace.SpanContextFromContext(xrayParent(context.Background(), sampled)); !sc.IsValid() {
		t.Errorf("from the environment: no parent")
	}
	unsampled := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
	if sc := trace.SpanContextFromContext(xrayParent(context.Background(), unsampled)); sc.IsValid() {
		t.Errorf("an unsampled header became the parent")
	}
}
