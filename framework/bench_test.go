package framework_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/store/memstore"
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

func benchEvent(route, body, conn string) *events.APIGatewayWebsocketProxyRequest {
	ev := &events.APIGatewayWebsocketProxyRequest{Body: body}
	ev.RequestContext = events.APIGatewayWebsocketProxyRequestContext{
		RouteKey: route, EventType: "MESSAGE", ConnectionID: conn, RequestID: "R1knPH17NjMFftw=",
		DomainName: "example.execute-api.us-east-1.amazonaws.com", Stage: "prod",
	}
	return ev
}

// BenchmarkDispatchStateUpdate measures a frame whose handler changes the
// connection's state: load, modify, conditional save (in-memory store).
func BenchmarkDispatchStateUpdate(b *testing.B) {
	app := newTestApp(false)
	inv := app.Bind(&framework.Runtime{Store: memstore.New(nil)})
	ctx := context.Background()
	connect := &events.APIGatewayWebsocketProxyRequest{}
	connect.RequestContext.EventType, connect.RequestContext.ConnectionID = "CONNECT", "R1kmxc2VNjMCFIA="
	inv.Invoke(ctx, connect)
	ev := benchEvent("incr", `{"action":"incr"}`, "R1kmxc2VNjMCFIA=")
	b.ReportAllocs()
	for b.Loop() {
		if resp, _ := inv.Invoke(ctx, ev); resp.StatusCode != 200 {
			b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
	}
}

// BenchmarkBarrierPair measures one complete pair: two arrivals through
// the framework, the second releasing both (callback posts to a no-op API).
func BenchmarkBarrierPair(b *testing.B) {
	app := newPartyApp(2)
	api := newFakeAPI()
	cb := framework.NewCallbackWithAPI(func(string) framework.CallbackAPI { return nopAPI{api} }, nil)
	inv := app.Bind(&framework.Runtime{Store: memstore.New(nil), Callback: cb})
	ctx := context.Background()
	a := benchEvent("arrive", "", "R1kmxc2VNjMCFIA=")
	c := benchEvent("arrive", "", "R1kmxc2VNjMCFIB=")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		body := `{"action":"arrive","key":"k` + strconv.Itoa(i) + `"}`
		a.Body, c.Body = body, body
		inv.Invoke(ctx, a)
		if resp, _ := inv.Invoke(ctx, c); resp.StatusCode != 200 {
			b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
	}
}

// nopAPI answers every call without recording, so that benchmarks do not
// accumulate frames.
type nopAPI struct{ *fakeAPI }

func (nopAPI) PostToConnection(context.Context, *apigatewaymanagementapi.PostToConnectionInput, ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}
