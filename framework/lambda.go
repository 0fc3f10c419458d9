package framework

import (
	"context"
	"encoding/base64"

	"github.com/aws/aws-lambda-go/events"
)

// LambdaHandler adapts an Invoker to the handler shape aws-lambda-go
// expects for API Gateway WebSocket events:
//
//	lambda.StartHandlerFunc(framework.LambdaHandler(app.Bind(rt)))
//
// A $connect answered with a non-2xx status rejects the connection. A
// handler failure is logged and answered with 500, and API Gateway sends the
// caller its "Internal server error" frame.
func LambdaHandler(inv Invoker) func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, event events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return inv.Invoke(ctx, &event)
	}
}

func base64StdDecode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
