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

type Greeted struct {
	Text string `json:"text"`
}

// Declared outbound types: with Runtime.CheckOutbound (development), a
// reply that does not match is not sent and the call returns an
// *OutboundError.
func ExamplePublishes() {
	app := framework.New[struct{}]("hello", nil)
	framework.Publishes[Greeted](app, "room:")
	framework.Handle(app, "greet", func(ctx context.Context, c *framework.Conn[struct{}], g Greeting) error {
		err := c.ReplyJSON(ctx, map[string]string{"greeting": g.Name}) // not a Greeted
		fmt.Println(err)
		return c.ReplyJSON(ctx, Greeted{Text: "hello, " + g.Name})
	}, &framework.RouteOptions{TwoWay: true, Replies: Greeted{}})

	fn := app.Bind(&framework.Runtime{CheckOutbound: true})
	ev := &events.APIGatewayWebsocketProxyRequest{Body: `{"action":"greet","name":"ann"}`}
	ev.RequestContext.EventType, ev.RequestContext.RouteKey = "MESSAGE", "greet"
	ev.RequestContext.ConnectionID, ev.RequestContext.RequestID = "R1kmxc2VNjMCFIA=", "R1knPH17NjMFftw="
	resp, _ := fn.Invoke(context.Background(), ev)
	fmt.Println(resp.Body)
	fmt.Println(app.Manifest().Pushes[0].Message.Name)
	// Output:
	// framework: reply of route "greet" does not match its declared type Greeted (RouteOptions.Replies): schema: (root): required: missing required property "text"
	// {"text":"hello, ann"}
	// Greeted
}
