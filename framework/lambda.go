package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// LambdaHandler adapts an Invoker to the handler shape aws-lambda-go
// expects for API Gateway WebSocket events:
//
//	lambda.StartHandlerFunc(framework.LambdaHandler(app.Bind(rt)))
//
// A $connect answered with a non-2xx status rejects the connection. A
// message handler failure is logged and returned as an invocation error
// (*HandlerError), for which API Gateway sends the caller its "Internal
// server error" frame.
func LambdaHandler(inv Invoker) func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, event events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return inv.Invoke(ctx, &event)
	}
}

// LambdaAuthorizerFunc is an API Gateway Lambda REQUEST authorizer, as
// App.LambdaAuthorizer returns it.
type LambdaAuthorizerFunc func(context.Context, LambdaAuthorizerEvent) (events.APIGatewayCustomAuthorizerResponse, error)

// LambdaEntry is the handler of a function that is both the app's
// integration and, when auth is not nil, its $connect authorizer (infra/
// deploys it so for an app that calls Authorize). It tells the two events
// apart by the authorizer's methodArn:
//
//	lambda.StartHandlerFunc(framework.LambdaEntry(app.Bind(rt), app.LambdaAuthorizer()))
func LambdaEntry(inv Invoker, auth LambdaAuthorizerFunc) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		// One decode serves both shapes: an AuthorizerEvent is a websocket
		// event plus the type and the method ARN.
		var ev LambdaAuthorizerEvent
		err := json.Unmarshal(raw, &ev)
		if ev.MethodArn != "" && ev.Type == "REQUEST" {
			if auth == nil {
				return nil, errors.New("framework: an authorizer event reached an app that declares no authorizer (call app.Authorize, or remove the authorizer from $connect)")
			}
			if err != nil {
				return nil, fmt.Errorf("framework: decode authorizer event: %w", err)
			}
			return auth(ctx, ev)
		}
		if err != nil {
			return nil, fmt.Errorf("framework: decode API Gateway event: %w", err)
		}
		return inv.Invoke(ctx, &ev.APIGatewayWebsocketProxyRequest)
	}
}

// AuthorizingApplication is an Application that may declare a $connect
// authorizer; *App implements it. Its manifest's Authorizer is set when it
// does.
type AuthorizingApplication interface {
	Application
	// LambdaAuthorizer returns the app's authorizer as an API Gateway
	// Lambda REQUEST authorizer. It panics if the app declares none.
	LambdaAuthorizer() LambdaAuthorizerFunc
}
