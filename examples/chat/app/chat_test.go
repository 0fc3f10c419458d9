package app_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mulletgo/mullet/examples/chat/app"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/store/memstore"
)

// decode decodes an event; room events come in the msg frames of durable
// groups (docs/protocol.md), whose data is the event.
func decode(t *testing.T, frame string) app.Event {
	t.Helper()
	var env struct {
		Mullet string          `json:"mullet"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(frame), &env); err == nil && env.Mullet == "msg" {
		frame = string(env.Data)
	}
	var e app.Event
	if err := json.Unmarshal([]byte(frame), &e); err != nil {
		t.Fatalf("frame %q: %v", frame, err)
	}
	return e
}

// backends are the ways the end-to-end tests run the chat: in process on
// the embedded in-memory store; in process on DynamoDB's API as served by
// dynalite (skipped without node, failing in CI); and as the example's real
// Lambda binary (examples/chat's own main, driven by aws-lambda-go) behind
// an emulated Lambda Runtime API, instances sharing a dynalite table.
func backends() map[string]func(t *testing.T) *mullettest.Server {
	return map[string]func(t *testing.T) *mullettest.Server{
		"memory": func(t *testing.T) *mullettest.Server {
			return mullettest.NewServer(t, app.New(), &mullettest.Options{Store: memstore.New(nil)})
		},
		"dynamodb": func(t *testing.T) *mullettest.Server {
			return mullettest.NewServer(t, app.New(), &mullettest.Options{Store: dynalitetest.NewStore(t)})
		},
		"lambda": func(t *testing.T) *mullettest.Server {
			db := dynalitetest.Start(t)
			srv := mullettest.NewServer(t, app.New(), &mullettest.Options{Lambda: &mullettest.Lambda{
				MainDir: "..", Table: db.NewTable(t), DynamoDBEndpoint: db.Endpoint,
			}})
			t.Cleanup(func() {
				st := srv.Pool.Stats()
				t.Logf("lambda: %d instances started, %d invocations (%d failed); cold p50 %v; warm p50 %v, p99 %v",
					st.Started, st.Invocations, st.Errors, st.Cold.P50.Round(time.Microsecond),
					st.Warm.P50.Round(time.Microsecond), st.Warm.P99.Round(time.Microsecond))
			})
			return srv
		},
	}
}

func TestChatEndToEnd(t *testing.T) {
	for name, serve := range backends() {
		t.Run(name, func(t *testing.T) { testChatEndToEnd(t, serve(t)) })
	}
}

func testChatEndToEnd(t *testing.T, srv *mullettest.Server) {
	ann, bob := srv.Dial(t, nil), srv.Dial(t, nil)

	ann.Send(t, `{"action":"nick","nick":"ann"}`)
	if e := decode(t, ann.Read(t)); e.Type != "nick" || e.Nick != "ann" {
		t.Fatalf("nick reply = %+v", e)
	}
	ann.Send(t, `{"action":"join","room":"lobby"}`)
	if e := decode(t, ann.Read(t)); e.Type != "joined" || e.Nick != "ann" {
		t.Fatalf("join echo = %+v", e)
	}
	bob.Send(t, `{"action":"join","room":"lobby"}`)
	for _, c := range []*mullettest.Client{ann, bob} {
		if e := decode(t, c.Read(t)); e.Type != "joined" || !strings.HasPrefix(e.Nick, "anon-") {
			t.Fatalf("bob's join = %+v", e)
		}
	}
	ann.Send(t, `{"action":"send","room":"lobby","text":"hi <bob> & all"}`)
	for _, c := range []*mullettest.Client{ann, bob} {
		if e := decode(t, c.Read(t)); e.Type != "message" || e.From != "ann" || e.Text != "hi <bob> & all" {
			t.Fatalf("message = %+v", e)
		}
	}
	// Bad input gets an error frame; the connection keeps working.
	bob.Send(t, `{"action":"send","room":"elsewhere","text":"x"}`)
	if f := bob.Read(t); !strings.Contains(f, `join room \"elsewhere\" before sending`) {
		t.Fatalf("send to a room not joined: %s", f)
	}
	bob.Send(t, `{"action":"nick","nick":""}`)
	if f := bob.Read(t); !strings.Contains(f, "Invalid request body") {
		t.Fatalf("empty nick: %s", f)
	}
	bob.Send(t, `{"action":"leave","room":"lobby"}`)
	for _, c := range []*mullettest.Client{ann, bob} {
		if e := decode(t, c.Read(t)); e.Type != "left" {
			t.Fatalf("leave = %+v", e)
		}
	}
}

// TestBroadcastWithGoneMembers: members that vanished without a clean
// close are removed on the next broadcast and never fail the sender.
func TestBroadcastWithGoneMembers(t *testing.T) {
	for name, serve := range backends() {
		t.Run(name, func(t *testing.T) { testBroadcastWithGoneMembers(t, serve(t)) })
	}
}

func testBroadcastWithGoneMembers(t *testing.T, srv *mullettest.Server) {
	const n = 10
	clients := make([]*mullettest.Client, n)
	for i := range n {
		clients[i] = srv.Dial(t, nil)
		clients[i].Send(t, `{"action":"join","room":"r"}`)
		// Drain the join notices seen so far by this and earlier clients.
		for j := 0; j <= i; j++ {
			clients[j].Read(t)
		}
	}
	for i := 1; i < n; i += 3 {
		clients[i].Conn.CloseNow()
	}
	time.Sleep(100 * time.Millisecond)
	clients[0].Send(t, `{"action":"send","room":"r","text":"still here?"}`)
	for i := range n {
		if i%3 == 1 {
			continue
		}
		if e := decode(t, clients[i].Read(t)); e.Type != "message" || e.Text != "still here?" {
			t.Fatalf("client %d got %+v", i, e)
		}
	}
	// The sender got nothing but the message: no error frame.
	clients[0].ExpectSilence(t, 200*time.Millisecond)
}

// TestBusyRoom: ten members send at once; every member gets every message,
// whichever invocation (in Lambda mode: whichever instance) sent it.
func TestBusyRoom(t *testing.T) {
	for name, serve := range backends() {
		t.Run(name, func(t *testing.T) {
			srv := serve(t)
			const n = 10
			members := make([]*mullettest.Client, n)
			for i := range members {
				members[i] = srv.Dial(t, nil)
				members[i].Send(t, `{"action":"join","room":"busy"}`)
				for j := 0; j <= i; j++ {
					members[j].Read(t) // join notices
				}
			}
			var wg sync.WaitGroup
			for _, c := range members {
				wg.Go(func() { c.Send(t, `{"action":"send","room":"busy","text":"hello"}`) })
			}
			wg.Wait()
			for i, c := range members {
				for range n {
					f, err := c.ReadTimeout(10 * time.Second)
					if err != nil {
						t.Fatalf("member %d: %v", i, err)
					}
					if e := decode(t, f); e.Type != "message" || e.Text != "hello" {
						t.Fatalf("member %d got %s", i, f)
					}
				}
			}
			if srv.Pool != nil {
				if st := srv.Pool.Stats(); st.Started < 2 || st.Warm.Count == 0 || st.Errors != 0 {
					t.Errorf("stats %+v: want several instances, warm reuse and no failure", st)
				}
			}
		})
	}
}
