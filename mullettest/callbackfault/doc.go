// Package callbackfault injects the failures of API Gateway's @connections
// API into a callback client: 410 GoneException for connections that are
// gone, 429 LimitExceededException (throttling) and 5xx server errors. Tests
// use it to show that the framework delivers to every live connection,
// cleans up every gone one, and retries throttling and server errors without
// the sender seeing an error.
//
// Two forms share one fault sequence: API wraps a framework.CallbackAPI (give
// it to framework.NewCallbackWithAPI), and Transport wraps the HTTP transport
// of the real SDK client, so the faults go through the SDK's own error
// deserialization. Errors from API have the shape the SDK returns: a
// *smithy.OperationError around an *awshttp.ResponseError with the status
// code around the typed exception (*types.GoneException,
// *types.LimitExceededException) or a smithy.GenericAPIError for 5xx.
//
//	faults := callbackfault.New(callbackfault.Options{Throttle: 0.1, ServerError: 0.05, MaxConsecutive: 2})
//	cb := framework.NewCallbackWithAPI(func(endpoint string) framework.CallbackAPI {
//		return faults.Wrap(apigatewaymanagementapi.NewFromConfig(cfg, ...))
//	}, nil)
//	faults.SetGone(id) // id answers 410 from now on
package callbackfault
