package emulator_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/manifest"
)

// A two-way route answers the message that invoked it.
func Example() {
	m := &manifest.Manifest{
		Version:                  manifest.Version,
		Name:                     "echo",
		RouteSelectionExpression: "$request.body.action",
		Routes:                   []manifest.Route{{Key: "echo", TwoWay: true}},
	}
	srv, err := emulator.Listen("127.0.0.1:0", &emulator.Options{
		Manifest: m,
		Invoke: func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: "you said " + ev.Body}, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	ctx := context.Background()
	go srv.Serve(ctx)

	c, _, err := websocket.Dial(ctx, srv.WebSocketURL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"action":"echo"}`))
	_, reply, err := c.Read(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(reply))
	// Output: you said {"action":"echo"}
}

// The SDK's API Gateway Management API client pushes to a connection once
// its BaseEndpoint is the emulator's callback URL.
func ExampleServer_CallbackURL() {
	connected := make(chan string, 1)
	m := &manifest.Manifest{
		Version:                  manifest.Version,
		Name:                     "push",
		RouteSelectionExpression: "$request.body.action",
		Routes:                   []manifest.Route{{Key: manifest.RouteConnect}},
	}
	srv, err := emulator.Listen("127.0.0.1:0", &emulator.Options{
		Manifest: m,
		Invoke: func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			connected <- ev.RequestContext.ConnectionID
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	ctx := context.Background()
	go srv.Serve(ctx)

	c, _, err := websocket.Dial(ctx, srv.WebSocketURL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	id := <-connected

	// The emulator checks signatures, as API Gateway does: sign with its
	// credentials.
	creds := srv.Emulator().Credentials()
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")))
	if err != nil {
		fmt.Println(err)
		return
	}
	api := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(srv.CallbackURL())
	})
	_, err = api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id),
		Data:         []byte(`{"type":"hello"}`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, msg, err := c.Read(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(msg))
	// Output: {"type":"hello"}
}
