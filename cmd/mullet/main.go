// Command mullet is the command line of the mullet framework: it runs an app
// locally behind the API Gateway emulator, rebuilding it on change.
//
//	mullet dev [-addr 127.0.0.1:8080] [-stage local] DIR
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
