// Package lambdaruntime runs a Lambda function's real bootstrap binary on
// the local machine, behind an emulated Lambda Runtime API.
//
// AWS Lambda runs a function as processes ("execution environments", here
// instances) that each call the Runtime API over HTTP: GET
// /2018-06-01/runtime/invocation/next long-polls for the next event, POST
// .../invocation/{id}/response or .../invocation/{id}/error answers it, and
// POST /2018-06-01/runtime/init/error reports a failed initialization.
// aws-lambda-go's lambda.Start is such a client. A Pool is the other side:
// it serves the Runtime API to instances of one executable built for the
// local OS and architecture, starting a new instance (a cold start) whenever
// every instance is busy, up to Options.MaxInstances, reusing warm ones and
// stopping those left idle for Options.IdleTimeout.
//
//	if err := bootstrap.Build(ctx, "./examples/chat", bin, nil); err != nil { ... }
//	pool, err := lambdaruntime.NewPool(&lambdaruntime.Options{
//		Bootstrap: bin,
//		Env:       []string{"MULLET_TABLE=chat", "MULLET_CALLBACK_URL=" + callbackURL},
//	})
//	if err != nil { ... }
//	defer pool.Close()
//	emu, err := emulator.New(&emulator.Options{Manifest: m, Invoke: pool.Invoke})
//
// Pool.Invoke has the shape of the emulator's integration, so the emulator
// drives real Lambda processes exactly as API Gateway does. Every instance
// gets its own Runtime API listener on 127.0.0.1, so the pool always knows
// which instance is polling.
//
// Failures are reported as Lambda reports them, as a *FunctionError: an
// error the handler returned or a panic (which aws-lambda-go reports to
// /error and then exits), an initialization that fails (/init/error, an exit
// before the first poll, or no poll within Options.InitTimeout), an exit
// during an invocation (Runtime.ExitError), and an invocation that outlives
// its deadline (Sandbox.Timedout: the instance is killed). An instance that
// died is replaced by a new one at the next invocation. No wait is
// unbounded: queueing for a busy pool is bounded by Options.Timeout, an
// initialization by Options.InitTimeout and an invocation by its deadline.
//
// Instances share no memory, so an app whose instances must see each
// other's state needs a shared store (for mullet apps: DynamoDB, or a
// DynamoDB-API server such as dynalite).
package lambdaruntime
