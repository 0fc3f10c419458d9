// Package cost turns the operations a mullet app performs into dollars,
// with AWS list prices kept as dated data in one place (ListPrices).
//
// The operation counts per scenario are the ones the test suite measures
// and asserts (for example, a completed rendezvous pair costs exactly two
// DynamoDB writes besides connection bookkeeping); durations are inputs,
// because they depend on the network between Lambda and DynamoDB, not on
// mullet.
package cost

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// Prices are AWS list prices for one region at one date.
type Prices struct {
	// AsOf is when these prices were taken from AWS's public price pages.
	AsOf string
	// Region is the AWS region they apply to.
	Region string

	// APIGatewayMessage is the price of one WebSocket message (the first
	// billion a month), metered in MessageUnit increments, both directions.
	APIGatewayMessage float64
	// APIGatewayConnectionMinute is the price of one connection minute.
	APIGatewayConnectionMinute float64
	// MessageUnit is the size increment messages are metered in (32 KB).
	MessageUnit int

	// LambdaRequest is the price of one invocation.
	LambdaRequest float64
	// LambdaGBSecondARM is the price of one GB-second on arm64.
	LambdaGBSecondARM float64

	// DynamoDBWrite is the price of one on-demand write request unit
	// (1 KB); DynamoDBRead of one read request unit (4 KB, strongly
	// consistent).
	DynamoDBWrite, DynamoDBRead float64
}

// ListPrices returns the list prices mullet's docs use: us-east-1, on
// demand, without free tier, data transfer or CloudWatch Logs. Check them
// against https://aws.amazon.com/api-gateway/pricing/,
// https://aws.amazon.com/lambda/pricing/ and
// https://aws.amazon.com/dynamodb/pricing/on-demand/ before relying on them.
func ListPrices() Prices {
	return Prices{
		AsOf:                       "2026-11 (API Gateway and Lambda unchanged since 2020; DynamoDB on-demand after the November 2024 reduction)",
		Region:                     "us-east-1",
		APIGatewayMessage:          1.00 / 1e6,
		APIGatewayConnectionMinute: 0.25 / 1e6,
		MessageUnit:                32 * 1024,
		LambdaRequest:              0.20 / 1e6,
		LambdaGBSecondARM:          0.0000133334,
		DynamoDBWrite:              0.625 / 1e6,
		DynamoDBRead:               0.125 / 1e6,
	}
}

// Usage is what a workload consumes.
type Usage struct {
	// Messages are API Gateway messages, already in MessageUnit
	// increments, inbound and outbound (@connections posts) together.
	Messages float64
	// ConnectionMinutes are API Gateway connection minutes.
	ConnectionMinutes float64
	// Invocations are Lambda invocations.
	Invocations float64
	// GBSeconds is Lambda duration times memory, each invocation's
	// duration rounded up to the millisecond.
	GBSeconds float64
	// WriteUnits and ReadUnits are DynamoDB request units.
	WriteUnits, ReadUnits float64
}

// Add returns u plus v.
func (u Usage) Add(v Usage) Usage {
	return Usage{u.Messages + v.Messages, u.ConnectionMinutes + v.ConnectionMinutes, u.Invocations + v.Invocations,
		u.GBSeconds + v.GBSeconds, u.WriteUnits + v.WriteUnits, u.ReadUnits + v.ReadUnits}
}

// Scale returns u times n.
func (u Usage) Scale(n float64) Usage {
	return Usage{u.Messages * n, u.ConnectionMinutes * n, u.Invocations * n, u.GBSeconds * n, u.WriteUnits * n, u.ReadUnits * n}
}

// Bill is the cost of a Usage by line.
type Bill struct {
	Messages, ConnectionMinutes, Requests, Duration, Writes, Reads float64
}

// Total is the sum of the lines.
func (b Bill) Total() float64 {
	return b.Messages + b.ConnectionMinutes + b.Requests + b.Duration + b.Writes + b.Reads
}

// Price prices a Usage.
func (p Prices) Price(u Usage) Bill {
	return Bill{
		Messages:          u.Messages * p.APIGatewayMessage,
		ConnectionMinutes: u.ConnectionMinutes * p.APIGatewayConnectionMinute,
		Requests:          u.Invocations * p.LambdaRequest,
		Duration:          u.GBSeconds * p.LambdaGBSecondARM,
		Writes:            u.WriteUnits * p.DynamoDBWrite,
		Reads:             u.ReadUnits * p.DynamoDBRead,
	}
}

// MessageUnits is how many metered messages a frame of n bytes counts as.
func (p Prices) MessageUnits(n int) float64 {
	if n <= 0 {
		return 1
	}
	return math.Ceil(float64(n) / float64(p.MessageUnit))
}

// invocation is the Usage of one Lambda invocation of ms milliseconds at
// memoryMB.
func invocation(ms float64, memoryMB int) Usage {
	return Usage{Invocations: 1, GBSeconds: math.Ceil(ms) / 1000 * float64(memoryMB) / 1024}
}

// Latencies are the assumed durations of the remote calls an invocation
// makes from Lambda (milliseconds); the handler's own CPU time is
// microseconds and is folded into Overhead.
type Latencies struct {
	DynamoDB, Callback, Overhead float64
}

// DefaultLatencies are typical same-region figures: about 5 ms per
// DynamoDB request, 10 ms per @connections call, 1 ms of runtime overhead.
func DefaultLatencies() Latencies { return Latencies{DynamoDB: 5, Callback: 10, Overhead: 1} }

// Rendezvous is the Usage of one completed pairing: two connections of
// minutes each, two $connect (one PutItem each), two "pair" frames (one
// UpdateItem each, as TestStoreOperationsPerPair and
// TestDynamoDBRequestsPerPair assert), the release (one GetConnection of
// the releaser and two @connections posts), two $disconnect (one GetItem and
// one DeleteItem each).
func (p Prices) Rendezvous(memoryMB int, minutes float64, l Latencies) Usage {
	u := Usage{
		// Two frames in, two answers out.
		Messages:          4,
		ConnectionMinutes: 2 * math.Ceil(minutes),
		WriteUnits:        2 + 2 + 2, // PutItem x2, UpdateItem x2, DeleteItem x2
		ReadUnits:         2,         // GetItem x2 at $disconnect
	}
	u = u.Add(invocation(l.Overhead+l.DynamoDB, memoryMB).Scale(2))     // $connect
	u = u.Add(invocation(l.Overhead+l.DynamoDB, memoryMB))              // first arrival
	u = u.Add(invocation(l.Overhead+l.DynamoDB+3*l.Callback, memoryMB)) // second arrival releases
	u = u.Add(invocation(l.Overhead+2*l.DynamoDB, memoryMB).Scale(2))   // $disconnect
	return u
}

// ChatMessage is the Usage of one chat message of size bytes sent to a room
// of members: one frame in, one post per member out, one invocation that
// loads the sender's state (GetItem) and the room (one Query, ~60 bytes per
// member, 4 KB per read unit) and posts with up to 32 calls in flight.
func (p Prices) ChatMessage(members, size, memoryMB int, l Latencies) Usage {
	units := p.MessageUnits(size + 64) // the framework's envelope
	waves := math.Ceil(float64(members) / 32)
	u := Usage{
		Messages:  units * float64(1+members),
		ReadUnits: 1 + math.Ceil(float64(members)*60/4096),
	}
	return u.Add(invocation(l.Overhead+2*l.DynamoDB+waves*l.Callback, memoryMB))
}

// DurableChatMessage is ChatMessage to a durable group: the message also
// gets a position, which costs one Query (the stream's tail, one read
// unit) and one conditional PutItem of the message (a write unit per KB),
// as TestDynamoDBRequestsPerContinuityOperation counts, and ~100 bytes more
// of msg frame.
func (p Prices) DurableChatMessage(members, size, memoryMB int, l Latencies) Usage {
	u := p.ChatMessage(members, size+100, memoryMB, l)
	u.ReadUnits++
	u.WriteUnits += math.Ceil(float64(size+150) / 1024)
	return u.Add(Usage{GBSeconds: invocation(2*l.DynamoDB, memoryMB).GBSeconds})
}

// Resume is the Usage of one session resume with rooms durable groups
// with presence and nothing missed, as
// TestDynamoDBRequestsPerContinuityOperation counts: the old connection's
// $disconnect (3 GetItem; 2 UpdateItem, 1 DeleteItem and the memberships'
// BatchWriteItem, one write unit per room), the new $connect (the
// conditional resume, the connection record, per room a membership
// UpdateItem and PutItem and a presence PutItem), and the sync frame
// (GetItem x2, one Query for the session's stream and two per room) with
// its synced answer.
func (p Prices) Resume(rooms, memoryMB int, l Latencies) Usage {
	r := float64(rooms)
	u := Usage{
		Messages:   2, // sync in, synced out
		WriteUnits: (3 + r) + (2 + 3*r),
		ReadUnits:  3 + (2 + 1 + 2*r),
	}
	u = u.Add(invocation(l.Overhead+(6+r)*l.DynamoDB+l.Callback, memoryMB))         // $disconnect
	u = u.Add(invocation(l.Overhead+(2+3*r)*l.DynamoDB+l.Callback, memoryMB))       // $connect, closing the old connection
	u = u.Add(invocation(l.Overhead+(3+2*r)*l.DynamoDB+(1+r)*l.Callback, memoryMB)) // sync
	return u
}

// Report prints the cost per million chat messages and per million
// pairings.
func Report(w io.Writer, p Prices, members, size, memoryMB int, minutes float64, l Latencies) {
	fmt.Fprintf(w, "AWS list prices: %s, as of %s\n", p.Region, p.AsOf)
	fmt.Fprintf(w, "assumed: Lambda arm64 %d MB; DynamoDB %.0f ms, @connections %.0f ms, overhead %.0f ms per call\n\n", memoryMB, l.DynamoDB, l.Callback, l.Overhead)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "per million\tmessages\tconn-minutes\tLambda req\tLambda GB-s\tDynamoDB writes\tDynamoDB reads\ttotal USD\t")
	line := func(name string, u Usage) {
		b := p.Price(u.Scale(1e6))
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", name, b.Messages, b.ConnectionMinutes, b.Requests, b.Duration, b.Writes, b.Reads, b.Total())
	}
	line(fmt.Sprintf("chat messages (%d B, room of %d)", size, members), p.ChatMessage(members, size, memoryMB, l))
	line(fmt.Sprintf("rendezvous pairings (%.0f min connected)", minutes), p.Rendezvous(memoryMB, minutes, l))
	line(fmt.Sprintf("durable chat messages (%d B, room of %d)", size, members), p.DurableChatMessage(members, size, memoryMB, l))
	line("session resumes (2 rooms with presence)", p.Resume(2, memoryMB, l))
	tw.Flush()
	chat := p.Price(p.ChatMessage(members, size, memoryMB, l).Scale(1e6)).Total()
	pair := p.Price(p.Rendezvous(memoryMB, minutes, l).Scale(1e6)).Total()
	fmt.Fprintf(w, "RESULT chat_usd_per_million=%.2f rendezvous_usd_per_million=%.2f\n", chat, pair)
}
