package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/local/dashboard"
	"github.com/mulletgo/mullet/store/memstore"
)

// A dashboard over a memory store, fed by the integration it wraps, served
// under its path.
func Example() {
	d := dashboard.New(&dashboard.Options{Store: memstore.New(nil), WebSocketURL: "ws://127.0.0.1:8080/local"})
	invoke := d.Wrap(func(context.Context, *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	})
	ev := &events.APIGatewayWebsocketProxyRequest{}
	ev.RequestContext.RouteKey, ev.RequestContext.ConnectionID = "$connect", "abc="
	invoke(context.Background(), ev)

	mux := http.NewServeMux()
	mux.Handle(d.Path(), d)
	srv := httptest.NewServer(mux) // on 127.0.0.1: the dashboard answers loopback only
	defer srv.Close()
	resp, err := http.Get(srv.URL + d.Path() + "api/invocations")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var log []dashboard.Invocation
	if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(log[0].Route, log[0].ConnectionID, log[0].Status, log[0].Outcome)
	// Output: $connect abc= 200 ok
}
