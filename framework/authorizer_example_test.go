package framework_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/framework"
)

// An authorizer decides at $connect from the headers and the query
// string; its context reaches every later invocation of the connection.
func ExampleApp_Authorize() {
	app := framework.New[struct{}]("private", nil)
	app.Authorize(func(ctx context.Context, req *framework.ConnectRequest) (framework.AuthContext, error) {
		token := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
		if token == "" {
			token = req.Query.Get("token") // browsers cannot set headers on a WebSocket
		}
		switch token {
		case "":
			return nil, framework.Reject(http.StatusUnauthorized, "missing token")
		case "s3cret":
			return framework.AuthContext{"user": "ann", "admin": true}, nil
		}
		return nil, framework.Reject(http.StatusForbidden, "bad token")
	}, nil)
	framework.Handle(app, "whoami", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		auth, err := c.AuthContext(ctx)
		if err != nil {
			return err
		}
		return c.ReplyText(ctx, fmt.Sprintf("%s (admin: %s)", auth["user"], auth["admin"]))
	}, &framework.RouteOptions{TwoWay: true})

	fn := app.Bind(nil)
	ctx := context.Background()
	for _, query := range []map[string]string{nil, {"token": "guess"}, {"token": "s3cret"}} {
		connect := &events.APIGatewayWebsocketProxyRequest{QueryStringParameters: query}
		connect.RequestContext.EventType, connect.RequestContext.ConnectionID = "CONNECT", "R1kmxc2VNjMCFIA="
		resp, _ := fn.Invoke(ctx, connect)
		fmt.Println(strings.TrimSpace(fmt.Sprint(resp.StatusCode, " ", resp.Body)))
	}
	ev := &events.APIGatewayWebsocketProxyRequest{Body: `{"action":"whoami"}`}
	ev.RequestContext.EventType, ev.RequestContext.RouteKey, ev.RequestContext.ConnectionID = "MESSAGE", "whoami", "R1kmxc2VNjMCFIA="
	resp, _ := fn.Invoke(ctx, ev)
	fmt.Println(resp.StatusCode, resp.Body)
	// Output:
	// 401 missing token
	// 403 bad token
	// 200
	// 200 ann (admin: true)
}
