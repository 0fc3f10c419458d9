package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/manifest"
)

// AuthContext is what an authorizer passes on to the later invocations of
// a connection it allowed, like the context map of an API Gateway Lambda
// authorizer: keys to strings, numbers or booleans (API Gateway refuses
// objects and arrays there, and so does the framework). The framework keeps
// it with the connection's record as strings ("42", "true"), which is also
// how API Gateway hands number and boolean values to later events.
type AuthContext map[string]any

// ConnectRequest is what an authorizer decides from: the $connect request.
type ConnectRequest struct {
	// ConnectionID is the ID API Gateway gave the connection.
	ConnectionID string
	// Header holds the upgrade request's headers, with canonical keys, so
	// Header.Get("authorization") works whatever the client's spelling.
	Header http.Header
	// Query holds the query string parameters of the WebSocket URL, e.g.
	// wss://…/prod?token=… (browsers cannot set headers on a WebSocket).
	Query url.Values
	// SourceIP is the caller's address as API Gateway saw it.
	SourceIP string
	// UserAgent is the caller's User-Agent header.
	UserAgent string
}

// AuthorizeFunc decides whether a connection may be made, and with what
// AuthContext; see App.Authorize.
type AuthorizeFunc func(ctx context.Context, req *ConnectRequest) (AuthContext, error)

// principalIDKey is the key under which API Gateway puts a Lambda
// authorizer's principalId into requestContext.authorizer.
const principalIDKey = "principalId"

// newConnectRequest builds the authorizer's input from a $connect event.
func newConnectRequest(event *events.APIGatewayWebsocketProxyRequest) *ConnectRequest {
	req := &ConnectRequest{
		ConnectionID: event.RequestContext.ConnectionID,
		Header:       make(http.Header, len(event.Headers)),
		Query:        make(url.Values, len(event.QueryStringParameters)),
		SourceIP:     event.RequestContext.Identity.SourceIP,
		UserAgent:    event.RequestContext.Identity.UserAgent,
	}
	if len(event.MultiValueHeaders) > 0 {
		for k, vs := range event.MultiValueHeaders {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
	} else {
		for k, v := range event.Headers {
			req.Header.Add(k, v)
		}
	}
	if len(event.MultiValueQueryStringParameters) > 0 {
		for k, vs := range event.MultiValueQueryStringParameters {
			req.Query[k] = append(req.Query[k], vs...)
		}
	} else {
		for k, v := range event.QueryStringParameters {
			req.Query.Add(k, v)
		}
	}
	return req
}

// gatewayAuthorizer returns the authorizer context API Gateway put into an
// event, if a Lambda authorizer ran for the connection: a map with a
// principalId, which is what every Lambda authorizer response carries.
func gatewayAuthorizer(event *events.APIGatewayWebsocketProxyRequest) (map[string]any, bool) {
	m, ok := event.RequestContext.Authorizer.(map[string]any)
	if !ok {
		return nil, false
	}
	if _, ok := m[principalIDKey]; !ok {
		return nil, false
	}
	return m, true
}

// flattenAuthContext converts an authorizer context to the strings the
// store keeps. A value that is not a string, number or boolean is a
// mistake in the authorizer, reported with the key.
func flattenAuthContext(ac map[string]any) (map[string]string, error) {
	if len(ac) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(ac))
	for k, v := range ac {
		s, err := authValueString(v)
		if err != nil {
			return nil, fmt.Errorf("framework: authorizer context key %q: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

func authValueString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.FormatInt(int64(x), 10), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return formatFloat(float64(x), 32)
	case float64:
		return formatFloat(x, 64)
	case json.Number:
		if _, err := x.Float64(); err != nil {
			return "", fmt.Errorf("%q is not a number", string(x))
		}
		return string(x), nil
	}
	return "", fmt.Errorf("a %T is not a string, number or boolean (API Gateway accepts only those in an authorizer context)", v)
}

func formatFloat(f float64, bits int) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("%v is not a JSON number", f)
	}
	return strconv.FormatFloat(f, 'f', -1, bits), nil
}

func expandAuthContext(m map[string]string) AuthContext {
	if m == nil {
		return nil
	}
	out := make(AuthContext, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// LambdaAuthorizerEvent is the input API Gateway gives a Lambda REQUEST authorizer
// of a WebSocket API's $connect route: the CONNECT event's headers, query
// string and request context, plus the type and the method ARN
// (arn:aws:execute-api:{region}:{account}:{api}/{stage}/$connect).
type LambdaAuthorizerEvent struct {
	Type      string `json:"type"`
	MethodArn string `json:"methodArn"`
	events.APIGatewayWebsocketProxyRequest
}

// LambdaAuthorizer returns the app's authorizer (see Authorize) in the
// shape aws-lambda-go expects of an API Gateway Lambda REQUEST authorizer,
// so that the same function can guard $connect before any integration
// runs:
//
//	lambda.Start(app.LambdaAuthorizer())
//
// An allowed connection gets an Allow policy for the method ARN, with the
// AuthContext as the policy's context (its "principalId" key, if a string,
// becomes the principal ID; otherwise the connection ID does). A 401 *Error
// becomes the "Unauthorized" error API Gateway answers 401 for; another 4xx
// becomes a Deny policy (API Gateway answers 403); any other error is
// returned as is (API Gateway answers 500). API Gateway then passes the
// context to every invocation of the connection in
// requestContext.authorizer, where the framework finds it. When the app
// takes API keys from its authorizer (APIKeyOptions.FromAuthorizer), the
// context's UsageIdentifierKey value becomes the response's
// usageIdentifierKey instead. It panics if the app has no authorizer.
func (a *App[S]) LambdaAuthorizer() LambdaAuthorizerFunc {
	fn := a.authorizer
	if fn == nil {
		panic(fmt.Sprintf("framework: LambdaAuthorizer: app %q declares no authorizer; call app.Authorize first", a.name))
	}
	keysFromAuthorizer := a.connectAuth != nil && a.connectAuth.APIKeys != nil && a.connectAuth.APIKeys.SelectionExpression == manifest.APIKeyFromAuthorizer
	return func(ctx context.Context, ev LambdaAuthorizerEvent) (events.APIGatewayCustomAuthorizerResponse, error) {
		ac, err := runAuthorizer(ctx, fn, newConnectRequest(&ev.APIGatewayWebsocketProxyRequest))
		principal := ev.RequestContext.ConnectionID
		if p, ok := ac[principalIDKey].(string); ok && p != "" {
			principal = p
		}
		if principal == "" {
			principal = "mullet"
		}
		if err != nil {
			var fe *Error
			switch {
			case errors.As(err, &fe) && fe.Status == http.StatusUnauthorized:
				return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
			case errors.As(err, &fe) && fe.Status >= 400 && fe.Status < 500:
				return policy(principal, "Deny", ev.MethodArn, nil), nil
			}
			return events.APIGatewayCustomAuthorizerResponse{}, err
		}
		if _, err := flattenAuthContext(ac); err != nil {
			return events.APIGatewayCustomAuthorizerResponse{}, err
		}
		ctxOut := make(map[string]any, len(ac))
		for k, v := range ac {
			if k != principalIDKey {
				ctxOut[k] = v
			}
		}
		resp := policy(principal, "Allow", ev.MethodArn, ctxOut)
		if keysFromAuthorizer {
			// API Gateway counts the connection against this key's usage
			// plan ($context.authorizer.usageIdentifierKey).
			if key, ok := ac[UsageIdentifierKey].(string); ok {
				resp.UsageIdentifierKey = key
				delete(resp.Context, UsageIdentifierKey)
			}
		}
		return resp, nil
	}
}

func policy(principal, effect, resource string, ctx map[string]any) events.APIGatewayCustomAuthorizerResponse {
	if len(ctx) == 0 {
		ctx = nil
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{resource},
			}},
		},
		Context: ctx,
	}
}

// runAuthorizer calls fn, turning a panic into an error so that a broken
// authorizer refuses the connection rather than taking the function down.
func runAuthorizer(ctx context.Context, fn AuthorizeFunc, req *ConnectRequest) (ac AuthContext, err error) {
	defer func() {
		if p := recover(); p != nil {
			ac, err = nil, newPanicError("the $connect authorizer", p, "runAuthorizer")
		}
	}()
	return fn(ctx, req)
}
