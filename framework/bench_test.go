package framework_test

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/framework/store/memstore"
)

// BenchmarkDispatch measures one frame through route selection, schema
// validation, decoding and a two-way reply, with no state change.
func BenchmarkDispatch(b *testing.B) {
	app := newTestApp(false)
	st := memstore.New(nil)
	inv := app.Bind(&framework.Runtime{Store: st})
	ctx := context.Background()
	ev := &events.APIGatewayWebsocketProxyRequest{Body: `{"action":"echo","text":"hello"}`}
	ev.RequestContext = events.APIGatewayWebsocketProxyRequestContext{
		RouteKey: "echo", EventType: "MESSAGE", ConnectionID: "R1kmxc2VNjMCFIA=", RequestID: "R1knPH17NjMFftw=",
		DomainName: "example.execute-api.us-east-1.amazonaws.com", Stage: "prod",
	}
	b.ReportAllocs()
	for b.Loop() {
		resp, _ := inv.Invoke(ctx, ev)
		if resp.StatusCode != 200 {
			b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
	}
}
