package mullettest_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// take returns the counts since the last take and resets them.
func (c *countingTransport) take() (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, total := c.ops, 0
	for _, n := range out {
		total += n
	}
	c.ops = map[string]int{}
	c.n.Store(0)
	return out, total
}

func describeOps(ops map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(ops)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, ops[k]))
	}
	return strings.Join(parts, ", ")
}

// TestDynamoDBRequestsPerContinuityOperation counts, at the DynamoDB API
// against dynalite, the requests of a plain broadcast, a durable one, and
// a resume, for docs/benchmarks.md. It asserts the durable broadcast's
// uncontended cost: the plain one's plus one Query and one PutItem.
func TestDynamoDBRequestsPerContinuityOperation(t *testing.T) {
	ct := &countingTransport{base: http.DefaultTransport, ops: map[string]int{}}
	st := dynalitetest.NewStore(t, func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Transport: ct} })
	app := contApp(contOpts{window: 100, grace: time.Second})
	framework.Handle(app, "joinplain", func(ctx context.Context, c *framework.Conn[contProfile], m contRoom) error {
		if err := c.Join(ctx, m.Room); err != nil {
			return err
		}
		return c.ReplyJSON(ctx, map[string]string{"joined": m.Room})
	}, nil)
	srv := mullettest.NewServer(t, app, &mullettest.Options{Store: st})

	const members = 10
	sessions := make([]*session, members)
	clients := make([]*mullettest.Client, members)
	for i := range members {
		sessions[i] = newSession(t)
		clients[i] = sessions[i].mustDial(t, srv)
		clients[i].Send(t, `{"action":"joinplain","room":"plain"}`)
		readUntil(t, clients[i], func(f contFrame) bool { return f.Joined == "plain" })
		clients[i].Send(t, `{"action":"join","room":"room1"}`)
		readUntil(t, clients[i], func(f contFrame) bool { return f.Joined == "room1" })
	}
	// Let presence events settle.
	time.Sleep(300 * time.Millisecond)
	ct.take()

	measure := func(name, frame string, want func(contFrame) bool) (map[string]int, int) {
		clients[0].Send(t, frame)
		for _, c := range clients[1:] {
			readUntil(t, c, want)
		}
		time.Sleep(100 * time.Millisecond)
		ops, total := ct.take()
		t.Logf("%-26s %2d requests: %s", name, total, describeOps(ops))
		return ops, total
	}
	_, plain := measure("plain broadcast (10)", `{"action":"say","room":"plain","text":"p"}`, func(f contFrame) bool { return f.Mullet == "" && f.Joined == "" })
	ops, durable := measure("durable broadcast (10)", `{"action":"say","room":"room1","text":"d"}`, func(f contFrame) bool { return f.Mullet == "msg" })
	if durable != plain+2 || ops["PutItem"] != 1 {
		t.Errorf("durable broadcast: %d requests (%s), want the plain broadcast's %d plus one Query and one PutItem", durable, describeOps(ops), plain)
	}

	// Resume: the old connection is cut, a new one resumes and syncs.
	clients[1].Conn.CloseNow()
	time.Sleep(300 * time.Millisecond)
	ops, total := ct.take()
	t.Logf("%-26s %2d requests: %s", "$disconnect of a session", total, describeOps(ops))
	c := sessions[1].mustDial(t, srv)
	ops, total = ct.take()
	t.Logf("%-26s %2d requests: %s", "resume ($connect, 2 groups)", total, describeOps(ops))
	syncRead(t, c, map[string]store.Position{})
	ops, total = ct.take()
	t.Logf("%-26s %2d requests: %s", "sync (2 streams + session)", total, describeOps(ops))
}

// BenchmarkBroadcast measures, in one run, the latency of a broadcast to
// ten members, from the sender's frame to the last member's receipt, for a
// plain group and a durable one, on memory and on dynalite:
//
//	go test -run '^$' -bench BenchmarkBroadcast -benchtime 200x ./mullettest/
func BenchmarkBroadcast(b *testing.B) {
	backends := map[string]func(b *testing.B) store.Store{
		"memory":   func(b *testing.B) store.Store { return memstore.New(nil) },
		"dynamodb": func(b *testing.B) store.Store { return dynalitetest.NewStore(b) },
	}
	for _, name := range []string{"memory", "dynamodb"} {
		b.Run(name, func(b *testing.B) {
			app := contApp(contOpts{window: 100, grace: time.Second})
			framework.Handle(app, "joinplain", func(ctx context.Context, c *framework.Conn[contProfile], m contRoom) error {
				if err := c.Join(ctx, m.Room); err != nil {
					return err
				}
				return c.ReplyJSON(ctx, map[string]string{"joined": m.Room})
			}, nil)
			srv := mullettest.NewServer(b, app, &mullettest.Options{Store: backends[name](b)})
			const members = 10
			clients := make([]*mullettest.Client, members)
			for i := range clients {
				clients[i] = srv.Dial(b, nil)
				clients[i].Send(b, `{"action":"joinplain","room":"plain"}`)
				clients[i].Read(b)
				clients[i].Send(b, `{"action":"joinplain","room":"room1"}`)
				clients[i].Read(b)
			}
			for _, group := range []string{"plain", "room1"} {
				kind := map[string]string{"plain": "plain", "room1": "durable"}[group]
				b.Run(kind, func(b *testing.B) {
					frame := fmt.Sprintf(`{"action":"say","room":%q,"text":"x"}`, group)
					for b.Loop() {
						clients[0].Send(b, frame)
						for _, c := range clients {
							c.Read(b)
						}
					}
				})
			}
		})
	}
}
