package framework_test

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/framework"
)

// TestGatewayChecksModels: behind API Gateway (or the emulator) a frame the
// route's model already passed is not checked again, unless the app sets
// AlwaysValidate; a frame that came through $default is always checked.
func TestGatewayChecksModels(t *testing.T) {
	type greet struct {
		Name string `json:"name" schema:"minLength=1"`
	}
	const bad = `{"action":"greet","name":""}`
	for _, tt := range []struct {
		name            string
		gateway, always bool
		routeKey        string
		want            int
	}{
		{"invoked directly", false, false, "greet", 400},
		{"behind the gateway", true, false, "greet", 200},
		{"behind the gateway, through $default", true, false, "$default", 400},
		{"behind the gateway, AlwaysValidate", true, true, "greet", 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := framework.New[struct{}]("models", &framework.Options{AlwaysValidate: tt.always})
			framework.Handle(app, "greet", func(ctx context.Context, c *framework.Conn[struct{}], g greet) error {
				return c.ReplyText(ctx, "hello "+g.Name)
			}, &framework.RouteOptions{TwoWay: true})
			fn := app.Bind(&framework.Runtime{GatewayChecksModels: tt.gateway})
			ev := &events.APIGatewayWebsocketProxyRequest{Body: bad}
			ev.RequestContext.EventType, ev.RequestContext.RouteKey = "MESSAGE", tt.routeKey
			ev.RequestContext.ConnectionID, ev.RequestContext.RequestID = "R1kmxc2VNjMCFIA=", "R1knPH17NjMFftw="
			resp, err := fn.Invoke(context.Background(), ev)
			if err != nil || resp.StatusCode != tt.want {
				t.Fatalf("got %d %q, %v; want %d", resp.StatusCode, resp.Body, err, tt.want)
			}
		})
	}
}
