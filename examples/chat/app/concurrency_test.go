package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mulletgo/mullet/examples/chat/app"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// countingTransport counts the HTTP requests an SDK client sends.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// TestConcurrentStateUpdates: 100 frames sent at once on one connection,
// half setting the nick and half joining a room, each updating the
// connection's state. In AWS such frames run concurrently; every one must
// succeed, on DynamoDB's API (dynalite) as on the in-memory store, and no
// update may be lost. It logs what the DynamoDB store's requests cost.
func TestConcurrentStateUpdates(t *testing.T) {
	const n = 100
	stores := map[string]func(t *testing.T) (store.Store, *countingTransport){
		"memory": func(t *testing.T) (store.Store, *countingTransport) { return memstore.New(nil), nil },
		"dynamodb": func(t *testing.T) (store.Store, *countingTransport) {
			ct := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
			return dynalitetest.NewStore(t, func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Transport: ct} }), ct
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			st, counter := newStore(t)
			// Every update retries its conflicts until the invocation's
			// deadline. dynalite, single-threaded and under the race
			// detector on a machine that runs other tests at once, is far
			// slower than DynamoDB: the point here is that no update is
			// lost, so the deadline is not API Gateway's 29 s.
			srv := mullettest.NewServer(t, app.New(), &mullettest.Options{Store: st, IntegrationTimeout: 2 * time.Minute})
			c := srv.Dial(t, nil)
			c.Send(t, `{"action":"join","room":"first"}`) // records the connection's state once
			c.Read(t)
			// The cost without contention: frames one at a time.
			var before, sequential int64
			if counter != nil {
				before = counter.n.Load()
			}
			for i := range 10 {
				if i%2 == 0 {
					c.Send(t, fmt.Sprintf(`{"action":"nick","nick":"s%d"}`, i))
				} else {
					c.Send(t, `{"action":"join","room":"first"}`)
				}
				c.Read(t)
			}
			if counter != nil {
				sequential = counter.n.Load() - before
				before = counter.n.Load()
			}
			start := time.Now()
			for i := range n {
				if i%2 == 0 {
					c.Send(t, fmt.Sprintf(`{"action":"nick","nick":"n%d"}`, i))
				} else {
					c.Send(t, fmt.Sprintf(`{"action":"join","room":"r%d"}`, i))
				}
			}
			nicks, joins := 0, 0
			for range n {
				f, err := c.ReadTimeout(2 * time.Minute)
				if err != nil {
					t.Fatalf("after %d nick and %d join replies: %v", nicks, joins, err)
				}
				e := decode(t, f)
				if e.Type == "" {
					t.Fatalf("after %d nick and %d join replies: frame %s", nicks, joins, f)
				}
				switch e.Type {
				case "nick":
					nicks++
				case "joined":
					joins++
				default:
					t.Fatalf("frame %s", f)
				}
			}
			elapsed := time.Since(start)
			if nicks != n/2 || joins != n/2 {
				t.Fatalf("%d nick and %d join replies; want %d of each", nicks, joins, n/2)
			}
			// No update was lost: the state holds every room.
			members, err := st.GroupMembers(context.Background(), "r1")
			if err != nil || len(members) != 1 {
				t.Fatalf("members of r1: %v %v", members, err)
			}
			state, err := st.LoadState(context.Background(), members[0])
			if err != nil {
				t.Fatal(err)
			}
			var p app.Profile
			if err := json.Unmarshal(state.Data, &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Rooms) != n/2+1 || !slices.Contains(p.Rooms, "first") {
				t.Fatalf("state has %d rooms; want %d: an update was lost", len(p.Rooms), n/2+1)
			}
			if counter != nil {
				reqs := counter.n.Load() - before
				t.Logf("%d concurrent updates of one connection on dynalite: %d DynamoDB requests (%.1f per frame; %.1f per frame one at a time), %v in all, state version %d",
					n, reqs, float64(reqs)/n, float64(sequential)/10, elapsed.Round(time.Millisecond), state.Version)
			}
		})
	}
}
