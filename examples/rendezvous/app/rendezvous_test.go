package app_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/mullettest"
)

func answer(t *testing.T, frame string) string {
	t.Helper()
	var a app.Answer
	if err := json.Unmarshal([]byte(frame), &a); err != nil || a.SourceIP == "" {
		t.Fatalf("frame %q is not an answer", frame)
	}
	return a.SourceIP
}

func TestPair(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { testPair(t, b.serve(t, 2, "..")) })
	}
}

func testPair(t *testing.T, srv *mullettest.Server) {
	left, right := srv.Dial(t, fromA("127.0.0.2")), srv.Dial(t, fromA("127.0.0.3"))
	left.Send(t, `{"action":"pair","pairing_name":"p1"}`)
	time.Sleep(20 * time.Millisecond)
	right.Send(t, `{"action":"pair","pairing_name":"p1"}`)
	// Each learns the other's source IP.
	if ip := answer(t, left.Read(t)); ip != "127.0.0.3" {
		t.Fatalf("left learned %s", ip)
	}
	if ip := answer(t, right.Read(t)); ip != "127.0.0.2" {
		t.Fatalf("right learned %s", ip)
	}
	// The pairing name is reusable: a released pair starts a new
	// generation at the next arrival (RestartAfterRelease), so the same two
	// peers pair again under it, on new connections.
	third, fourth := srv.Dial(t, fromA("127.0.0.3")), srv.Dial(t, fromA("127.0.0.2"))
	third.Send(t, `{"action":"pair","pairing_name":"p1"}`)
	time.Sleep(20 * time.Millisecond)
	fourth.Send(t, `{"action":"pair","pairing_name":"p1"}`)
	if ip := answer(t, third.Read(t)); ip != "127.0.0.2" {
		t.Fatalf("the third arrival learned %s", ip)
	}
	if ip := answer(t, fourth.Read(t)); ip != "127.0.0.3" {
		t.Fatalf("the fourth arrival learned %s", ip)
	}
	// A connection of the released generation arriving again changes
	// nothing: it is not paired twice, and not refused either.
	fourth.Send(t, `{"action":"pair","pairing_name":"p1"}`)
	// Bad pairing names never reach the barrier.
	third.Send(t, `{"action":"pair","pairing_name":""}`)
	if f := third.Read(t); !strings.Contains(f, "Invalid request body") {
		t.Fatalf("empty pairing name got %s", f)
	}
	third.Send(t, `{"action":"pair","pairing_name":"has space"}`)
	if f := third.Read(t); !strings.Contains(f, "Invalid request body") {
		t.Fatalf("pairing name with a space got %s", f)
	}
	fourth.ExpectSilence(t, 100*time.Millisecond)
}

// TestManyPairs runs concurrent pairs in random arrival order; in 10% of
// them the first arrival disconnects before its peer comes, and its peer
// must pair with a later arrival instead.
func TestManyPairs(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			srv := b.serve(t, 2, "..")
			testManyPairs(t, srv, b.pairs)
			if srv.Pool != nil {
				// Lambda mode: the frames spread over several instances,
				// which were reused while warm.
				if st := srv.Pool.Stats(); st.Started < 2 || st.Warm.Count == 0 {
					t.Errorf("the pairs did not spread over warm instances: %+v", st)
				}
			}
		})
	}
}

func testManyPairs(t *testing.T, srv *mullettest.Server, pairs int) {
	if testing.Short() {
		pairs = min(pairs, 50)
	}
	var wg sync.WaitGroup
	errs := make(chan error, pairs)
	// At most 50 pairs in flight: on a loaded 2-core CI machine under the
	// race detector, hundreds at once stretch every invocation, which is a
	// property of the machine, not of the barrier
	// (TestRendezvousUnderFaults covers 1,000 pairs with faults).
	sem := make(chan struct{}, 50)
	for i := range pairs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			name := fmt.Sprintf("pair-%d", i)
			a, b := srv.Dial(t, tenantA), srv.Dial(t, tenantA)
			if rand.IntN(2) == 0 {
				a, b = b, a
			}
			send := `{"action":"pair","pairing_name":"` + name + `"}`
			a.Send(t, send)
			if i%10 == 0 {
				// a leaves (a clean close, so API Gateway knows) before b
				// arrives; b must wait for a later arrival c instead of being
				// released with a. All clients share 127.0.0.1, so a release
				// with a would show as c left waiting alone in a new
				// generation of the pairing.
				a.Conn.Close(websocket.StatusNormalClosure, "bye")
				b.Send(t, send)
				time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
				a = srv.Dial(t, tenantA)
				a.Send(t, send)
			} else {
				time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
				b.Send(t, send)
			}
			for _, c := range []*mullettest.Client{a, b} {
				f, err := c.ReadTimeout(15 * time.Second)
				if err != nil {
					errs <- fmt.Errorf("%s: hanging: %v", name, err)
					return
				}
				if !strings.Contains(f, `"SourceIP":"127.0.0.1"`) {
					errs <- fmt.Errorf("%s: got %s", name, f)
					return
				}
			}
			for _, c := range []*mullettest.Client{a, b} {
				if f, err := c.ReadTimeout(50 * time.Millisecond); err == nil {
					errs <- fmt.Errorf("%s: a second frame after the answer: %s", name, f)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestFiveParty(t *testing.T) {
	for _, b := range backends() {
		// A Lambda binary fixes its declaration: testdata/fiveparty is the
		// example's main with a party of five.
		t.Run(b.name, func(t *testing.T) { testFiveParty(t, b.serve(t, 5, "testdata/fiveparty")) })
	}
}

func testFiveParty(t *testing.T, srv *mullettest.Server) {
	clients := make([]*mullettest.Client, 5)
	for i := range clients {
		clients[i] = srv.Dial(t, tenantA)
		clients[i].Send(t, `{"action":"pair","pairing_name":"five"}`)
	}
	for i, c := range clients {
		var got struct{ SourceIPs []string }
		f := c.Read(t)
		if err := json.Unmarshal([]byte(f), &got); err != nil || len(got.SourceIPs) != 4 {
			t.Fatalf("client %d got %s", i, f)
		}
	}
}

// fromA dials as tenant A from the loopback source IP ip.
func fromA(ip string) *mullettest.DialOptions {
	o := *tenantA
	o.SourceIP = ip
	return &o
}
