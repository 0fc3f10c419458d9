// Package framework declares a mullet app and runs it.
//
// A mullet app is one Go declaration: the routes of a WebSocket API, the JSON
// Schema of each route's frames (derived from the handler's Go type), the
// per-connection state type and the barriers. The same declaration runs in
// AWS Lambda behind API Gateway (see LambdaHandler), runs on a laptop behind
// the local emulator (package emulator), and becomes infrastructure through
// its Manifest (package infra).
//
//	type Profile struct{ Nick string `json:"nick"` }
//	type SetNick struct {
//		Nick string `json:"nick" schema:"minLength=1,maxLength=32"`
//	}
//
//	app := framework.New[Profile]("chat", nil)
//	framework.Handle(app, "nick", func(ctx context.Context, c *framework.Conn[Profile], m SetNick) error {
//		if err := c.UpdateState(ctx, func(p *Profile) error { p.Nick = m.Nick; return nil }); err != nil {
//			return err
//		}
//		return c.ReplyText(ctx, "nick set")
//	}, nil)
//
// Options are *Options structs (Options, RouteOptions, AuthorizeOptions,
// BarrierOptions, CallbackOptions) where nil means defaults. Frames go out
// with the encoding the call names: ReplyText, SendText and BroadcastText
// send text as it is; ReplyJSON, SendJSON and BroadcastJSON send a value as
// JSON. An invocation replies once. An app may declare what it sends
// (RouteOptions.Replies, Publishes): the types get schemas in the manifest,
// from which package asyncapi generates an AsyncAPI document and
// TypeScript types, and in development (Runtime.CheckOutbound) a frame that
// does not match its declared type is refused with an *OutboundError.
//
// Handlers receive a decoded payload that already satisfies its schema;
// invalid frames never reach them. Middleware has the shape
// func(Handler) Handler and applies to every route. Mistakes in a
// declaration (a duplicate route, two routes with one API Gateway model
// name, a bad route selection expression) panic at setup with a message that
// says what to fix; failures at run time are errors. A handler's panic is
// panicked again as a *PanicError that names the route and the app's own
// stack frames first, which is what the emulator, `mullet dev` and
// aws-lambda-go report.
package framework
