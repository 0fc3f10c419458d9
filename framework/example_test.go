package framework_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/framework"
)

type Greeting struct {
	Name string `json:"name" schema:"minLength=1,maxLength=20"`
}

// A two-way route: the handler's reply is API Gateway's route response.
// Invalid frames never reach the handler.
func ExampleHandle() {
	app := framework.New[struct{}]("hello", nil)
	framework.Handle(app, "greet", func(ctx context.Context, c *framework.Conn[struct{}], g Greeting) error {
		return c.ReplyText(ctx, "hello, "+g.Name)
	}, &framework.RouteOptions{TwoWay: true})

	fn := app.Bind(nil)
	ctx := context.Background()
	connect := &events.APIGatewayWebsocketProxyRequest{}
	connect.RequestContext.EventType, connect.RequestContext.ConnectionID = "CONNECT", "R1kmxc2VNjMCFIA="
	fn.Invoke(ctx, connect)

	for _, body := range []string{`{"action":"greet","name":"ann"}`, `{"action":"greet","name":""}`} {
		ev := &events.APIGatewayWebsocketProxyRequest{Body: body}
		ev.RequestContext.EventType, ev.RequestContext.RouteKey = "MESSAGE", "greet"
		ev.RequestContext.ConnectionID, ev.RequestContext.RequestID = "R1kmxc2VNjMCFIA=", "R1knPH17NjMFftw="
		resp, _ := fn.Invoke(ctx, ev)
		fmt.Println(resp.StatusCode, resp.Body)
	}
	// Output:
	// 200 hello, ann
	// 400 {"message": "Invalid request body: /name: minLength: length must be >= 1, but got 0", "connectionId":"R1kmxc2VNjMCFIA=", "requestId":"R1knPH17NjMFftw="}
}
