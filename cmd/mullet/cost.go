package main

import (
	"context"
	"fmt"
	"io"

	"github.com/mulletgo/mullet/cost"
)

func runCost(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cost", `mullet cost [flags]

Prints what a million chat messages and a million rendezvous pairings cost
in AWS: API Gateway messages and connection minutes, Lambda requests and
GB-seconds, DynamoDB request units, at the dated us-east-1 list prices kept
in package cost. Operation counts are the ones mullet's tests assert;
durations are the assumptions given by the flags.`, stderr)
	members := fs.Int("members", 10, "chat: members of the room each message is broadcast to")
	size := fs.Int("size", 200, "chat: message size in bytes")
	memory := fs.Int("memory", 256, "Lambda memory in MB (infra/ deploys 256)")
	minutes := fs.Float64("minutes", 1, "rendezvous: minutes each client stays connected")
	dynamo := fs.Float64("dynamodb-ms", 5, "assumed latency of one DynamoDB request from Lambda, ms")
	callback := fs.Float64("callback-ms", 10, "assumed latency of one @connections call from Lambda, ms")
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "mullet cost: unexpected argument %q; it takes flags only\n", fs.Arg(0))
		return 2
	}
	if *members < 1 || *size < 0 || *memory < 128 || *memory > 10240 || *minutes <= 0 || *dynamo < 0 || *callback < 0 {
		fmt.Fprintf(stderr, "mullet cost: -members >= 1, -size >= 0, -memory in 128..10240, -minutes > 0 and latencies >= 0\n")
		return 2
	}
	l := cost.DefaultLatencies()
	l.DynamoDB, l.Callback = *dynamo, *callback
	cost.Report(stdout, cost.ListPrices(), *members, *size, *memory, *minutes, l)
	return 0
}
