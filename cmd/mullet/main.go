// Command mullet is the command line of the mullet framework: it creates
// projects, runs an app locally behind the API Gateway emulator (rebuilding
// it on change), talks to websocket endpoints and to the @connections API,
// and wraps the cdk CLI to synthesize and deploy.
//
//	mullet new [-module PATH] [-dir DIR] [-mullet-checkout DIR] NAME
//	mullet dev [-addr 127.0.0.1:8080] [-stage local] [-debounce 200ms]
//	           [-store memory|dynamodb [-dynamodb-endpoint URL|aws -table NAME]]
//	           [-runtime local|lambda|inprocess] DIR
//	mullet connect [-send FRAME]... [-wait 1s] URL
//	mullet post -endpoint URL ID DATA | -get ID | -delete ID
//	mullet synth [-stage NAME] [-cdk PATH] DIR
//	mullet deploy [-stage NAME] [-profile NAME] [-yes] DIR
//	mullet bench [flags]
//	mullet cost [flags]
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
