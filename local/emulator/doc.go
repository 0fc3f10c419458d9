// Package emulator is a local stand-in for an AWS API Gateway WebSocket API
// whose routes are integrated with one Lambda function.
//
// It is configured the way API Gateway is: from a manifest (route selection
// expression, routes, request models) and an integration, which here is an
// in-process function with the signature of an aws-lambda-go handler for
// events.APIGatewayWebsocketProxyRequest. It serves the two endpoints a
// deployed API has, on one http.Handler:
//
//	ws://host/{stage}                          the WebSocket endpoint
//	http://host/{stage}/@connections/{id}      the @connections callback API
//
// The callback endpoint speaks the API Gateway Management API's wire format,
// so the unmodified aws-sdk-go-v2 apigatewaymanagementapi client works
// against it with only BaseEndpoint changed (see Server.CallbackURL).
//
// The emulator reproduces what a client and a Lambda can observe of API
// Gateway: $connect runs before the handshake completes and can reject it;
// route selection with $default fallback; request-model validation before
// the integration runs; API Gateway's error frames ("Forbidden", "Invalid
// request body", "Internal server error"); the 32 KB frame and 128 KB
// message limits (close 1009); binary frames (close 1003); the idle timeout
// and maximum connection duration (close 1001); connection IDs of AWS's
// shape; events field for field as aws-lambda-go decodes them; and exactly
// one $disconnect per connection, whatever ends it. docs/fidelity.md lists
// every behaviour with its source and its test.
//
// A Server binds the handler to a loopback address for `mullet dev` and for
// tests:
//
//	srv, err := emulator.Listen("127.0.0.1:0", &emulator.Options{
//		Manifest: m,
//		Invoke:   handler,
//	})
//	if err != nil { ... }
//	go srv.Serve(ctx)
//	defer srv.Close()
//	// clients dial srv.WebSocketURL(); Lambdas push to srv.CallbackURL().
package emulator
