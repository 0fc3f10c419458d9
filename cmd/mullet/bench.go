package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mulletgo/mullet/internal/loadgen"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", `mullet bench [flags]

Load generator. By default it starts two local servers as child processes,
the built-in mullet echo app behind the emulator and a bare coder/websocket
echo server (this machine's ceiling), and runs the same load against both.
With -url it loads any websocket endpoint instead.

Modes:
  echo       N connections in a closed loop: send, wait for the reply
  idle       open N connections, hold them, measure connect latency and RSS
  pair       rendezvous pairs through a barrier of two: -conns is the number
             of pairs in flight; release latency is from the second arrival's
             send until both sides have their answer; -pairs N ends a run
             after N pairs instead of -duration; -third sends a third
             arrival under each released pair's name and times its answer
  broadcast  one sender and a room of N members: time until every member
             has received each broadcast, and posts per second
  start      Lambda binary size and start-up: build -app for linux/arm64
             (the deployed bootstrap) and report its size; build it for this
             machine and time process start to the first poll of a fake
             Lambda Runtime API, side by side with a bare aws-lambda-go
             handler and with that handler plus the AWS SDK clients an app
             of this kind needs (-conns is the number of starts)`, stderr)
	mode := fs.String("mode", "echo", "echo, idle, pair, broadcast or start")
	route := fs.String("route", "echo", "mullet route: echo (two-way route response) or push (reply through @connections)")
	conns := fs.String("conns", "1,10,100", "comma-separated connection counts")
	duration := fs.Duration("duration", 5*time.Second, "how long each echo run lasts")
	payload := fs.Int("payload", 64, "payload bytes per frame")
	url := fs.String("url", "", "load this websocket URL instead of starting servers; frames are {\"action\":ROUTE,\"data\":...}")
	bare := fs.Bool("bare", true, "also run the load against a bare coder/websocket echo server and print ratios")
	pairs := fs.Int("pairs", 0, "with -mode pair: pairs per run (0: run for -duration)")
	third := fs.Bool("third", false, "with -mode pair: a third arrival after each release, timed until its answer")
	appDir := fs.String("app", "./examples/rendezvous", "with -mode start: the app's main package")
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	counts, err := loadgen.ParseCounts(*conns)
	if err != nil {
		fmt.Fprintf(stderr, "mullet bench: -conns: %v\n", err)
		return 2
	}
	err = loadgen.Run(ctx, loadgen.Config{
		Mode: *mode, Route: *route, Counts: counts, Duration: *duration, Payload: *payload,
		URL: *url, Bare: *bare, AppDir: *appDir, Pairs: *pairs, Third: *third, Out: stdout,
	})
	if err != nil {
		fmt.Fprintf(stderr, "mullet bench: %v\n", err)
		var usage *loadgen.UsageError
		if errors.As(err, &usage) {
			return 2
		}
		return 1
	}
	return 0
}

// runBenchServer is "mullet bench-server -kind mullet|bare", the server
// process mullet bench starts (loadgen.ServeTarget).
func runBenchServer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench-server", "mullet bench-server -kind mullet|bare (started by mullet bench)", stderr)
	kind := fs.String("kind", "mullet", "mullet or bare")
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if err := loadgen.ServeTarget(ctx, *kind, stdout); err != nil {
		fmt.Fprintf(stderr, "mullet bench-server: %v\n", err)
		return 1
	}
	return 0
}
