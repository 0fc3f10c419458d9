package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/faultstore"
	"github.com/mulletgo/mullet/mullettest/storetest"
	"github.com/mulletgo/mullet/store/dynamostore"
	"github.com/mulletgo/mullet/store/memstore"
)

// ipPool hands out distinct loopback source IPs, so that every client is
// recognizable in the answers it causes.
type ipPool struct{ n atomic.Int64 }

func (p *ipPool) next() string {
	n := p.n.Add(1)
	return fmt.Sprintf("127.%d.%d.%d", 1+n/62500, (n/250)%250+1, n%250+1)
}

func dialFrom(srv *mullettest.Server, ip string) (*mullettest.Client, error) {
	return srv.DialErr(context.Background(), &mullettest.DialOptions{Header: tenantA.Header, SourceIP: ip})
}

// TestRendezvousUnderFaults: many pairs with random arrival order; in 10%
// of them the first arrival leaves before its peer comes; the store fails
// 5% of calls (throttling, timeouts before and after the write applied,
// lost conditional writes). Every live client must get exactly one frame,
// naming its real partner: no double release, no release with a dead
// peer, no live client left hanging.
func TestRendezvousUnderFaults(t *testing.T) {
	pairs := 1000
	if testing.Short() {
		pairs = 200
	}
	faults := faultstore.New(memstore.New(nil), faultstore.Options{Rate: 0.05, Seed: uint64(time.Now().UnixNano())})
	// The test opens about 2,100 connections in a few seconds: lift the
	// account's 500 new connections a second, which is not what it tests.
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys, Store: faults,
		ConnectThrottle: &manifest.Throttle{RatePerSecond: 1e6, Burst: 1 << 20}})
	var ips ipPool
	var (
		doubles, deadPeer, hanging, wrong atomic.Int64
		mu                                sync.Mutex
		problems                          []string
	)
	report := func(counter *atomic.Int64, format string, args ...any) {
		counter.Add(1)
		mu.Lock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	sem := make(chan struct{}, 100)
	var wg sync.WaitGroup
	for i := range pairs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			name := fmt.Sprintf("pair-%d", i)
			send := `{"action":"pair","pairing_name":"` + name + `"}`
			ipA, ipB := ips.next(), ips.next()
			a, err := dialFrom(srv, ipA)
			if err != nil {
				report(&hanging, "%s: dial: %v", name, err)
				return
			}
			defer a.Conn.CloseNow()
			b, err := dialFrom(srv, ipB)
			if err != nil {
				report(&hanging, "%s: dial: %v", name, err)
				return
			}
			defer b.Conn.CloseNow()
			if rand.IntN(2) == 0 {
				a, b, ipA, ipB = b, a, ipB, ipA
			}
			ctx := context.Background()
			if err := a.Conn.Write(ctx, websocket.MessageText, []byte(send)); err != nil {
				report(&hanging, "%s: send: %v", name, err)
				return
			}
			dead := ""
			if i%10 == 0 {
				// The first arrival leaves before its peer comes; a third
				// client takes its place afterwards.
				time.Sleep(5 * time.Millisecond)
				a.Conn.Close(websocket.StatusNormalClosure, "leaving")
				dead = ipA
				if err := b.Conn.Write(ctx, websocket.MessageText, []byte(send)); err != nil {
					report(&hanging, "%s: send: %v", name, err)
					return
				}
				time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
				ipA = ips.next()
				if a, err = dialFrom(srv, ipA); err != nil {
					report(&hanging, "%s: dial: %v", name, err)
					return
				}
				defer a.Conn.CloseNow()
				if err := a.Conn.Write(ctx, websocket.MessageText, []byte(send)); err != nil {
					report(&hanging, "%s: send: %v", name, err)
					return
				}
			} else {
				time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
				if err := b.Conn.Write(ctx, websocket.MessageText, []byte(send)); err != nil {
					report(&hanging, "%s: send: %v", name, err)
					return
				}
			}
			for _, side := range []struct {
				c         *mullettest.Client
				me, other string
			}{{a, ipA, ipB}, {b, ipB, ipA}} {
				f, err := side.c.ReadTimeout(20 * time.Second)
				if err != nil {
					report(&hanging, "%s: %s got no answer: %v", name, side.me, err)
					continue
				}
				var ans app.Answer
				if err := json.Unmarshal([]byte(f), &ans); err != nil || ans.SourceIP == "" {
					report(&wrong, "%s: %s got %s", name, side.me, f)
					continue
				}
				switch ans.SourceIP {
				case side.other:
				case dead:
					report(&deadPeer, "%s: %s was released with the dead %s", name, side.me, dead)
				default:
					report(&wrong, "%s: %s was paired with %s, want %s", name, side.me, ans.SourceIP, side.other)
				}
			}
			for _, c := range []*mullettest.Client{a, b} {
				if f, err := c.ReadTimeout(30 * time.Millisecond); err == nil {
					report(&doubles, "%s: a second frame: %s", name, f)
				}
			}
		})
	}
	wg.Wait()
	st := faults.Stats()
	t.Logf("%d pairs (%d with a departed first arrival); faults injected: %d throttled, %d timeouts before and %d after the write, %d lost conditional writes",
		pairs, (pairs+9)/10, st.Throttled, st.TimeoutsBefore, st.TimeoutsAfter, st.Conflicts)
	t.Logf("double releases %d, releases with a dead peer %d, live clients left hanging %d, wrong partners %d",
		doubles.Load(), deadPeer.Load(), hanging.Load(), wrong.Load())
	for _, p := range problems {
		t.Error(p)
	}
	if st.Throttled+st.TimeoutsBefore+st.TimeoutsAfter == 0 {
		t.Error("no fault was injected; the test proves nothing")
	}
}

// TestStoreOperationsPerPair counts store calls for one completed pair on
// the no-fault path: exactly two writes (one Arrive per arrival) and two
// reads (each arrival reads its tenant, the API key ID, from its
// connection record: API Gateway names it only in $connect's event),
// apart from $connect/$disconnect bookkeeping.
func TestStoreOperationsPerPair(t *testing.T) {
	counter := storetest.NewCounter(memstore.New(nil))
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys, Store: counter})
	a, b := srv.Dial(t, &mullettest.DialOptions{Header: tenantA.Header, SourceIP: "127.0.0.2"}), srv.Dial(t, &mullettest.DialOptions{Header: tenantA.Header, SourceIP: "127.0.0.3"})
	connect := counter.Calls()
	counter.Reset()
	a.Send(t, `{"action":"pair","pairing_name":"counted"}`)
	time.Sleep(50 * time.Millisecond)
	b.Send(t, `{"action":"pair","pairing_name":"counted"}`)
	if f := a.Read(t); f != `{"SourceIP":"127.0.0.3"}` {
		t.Fatalf("a got %s", f)
	}
	if f := b.Read(t); f != `{"SourceIP":"127.0.0.2"}` {
		t.Fatalf("b got %s", f)
	}
	pair := counter.Calls()
	w, r := counter.Totals()
	counter.Reset()
	a.Conn.Close(websocket.StatusNormalClosure, "")
	b.Conn.Close(websocket.StatusNormalClosure, "")
	time.Sleep(100 * time.Millisecond)
	disconnect := counter.Calls()
	t.Logf("per pair: %v (writes %d, reads %d); bookkeeping: $connect x2 %v, $disconnect x2 %v", pair, w, r, connect, disconnect)
	if w != 2 || r != 2 || pair["Arrive"] != 2 || pair["GetConnection"] != 2 {
		t.Fatalf("a completed pair cost %v: %d writes and %d reads, want exactly 2 Arrive writes and 2 GetConnection reads", pair, w, r)
	}
}

// TestDynamoDBRequestsPerPair counts the DynamoDB requests of one completed
// pair against a real DynamoDB-API server: exactly two UpdateItem and two
// GetItem (each arrival's tenant), apart from the $connect/$disconnect
// bookkeeping reported separately.
func TestDynamoDBRequestsPerPair(t *testing.T) {
	counter := &dynamostore.RequestCounter{}
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys, Store: newDynamoStore(t, counter)})
	counter.Reset()
	a, b := srv.Dial(t, &mullettest.DialOptions{Header: tenantA.Header, SourceIP: "127.0.0.2"}), srv.Dial(t, &mullettest.DialOptions{Header: tenantA.Header, SourceIP: "127.0.0.3"})
	connect := counter.Snapshot()
	counter.Reset()
	a.Send(t, `{"action":"pair","pairing_name":"counted"}`)
	time.Sleep(100 * time.Millisecond)
	b.Send(t, `{"action":"pair","pairing_name":"counted"}`)
	if f := a.Read(t); f != `{"SourceIP":"127.0.0.3"}` {
		t.Fatalf("a got %s", f)
	}
	if f := b.Read(t); f != `{"SourceIP":"127.0.0.2"}` {
		t.Fatalf("b got %s", f)
	}
	pair := counter.Snapshot()
	counter.Reset()
	a.Conn.Close(websocket.StatusNormalClosure, "")
	b.Conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for counter.Snapshot()["DeleteItem"] < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("DynamoDB requests per completed pair: %v; bookkeeping: $connect x2 %v, $disconnect x2 %v", pair, connect, counter.Snapshot())
	if pair["UpdateItem"] != 2 || pair["GetItem"] != 2 || len(pair) != 2 {
		t.Fatalf("a completed pair cost %v, want exactly 2 UpdateItem and 2 GetItem", pair)
	}
}
