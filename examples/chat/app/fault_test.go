package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/examples/chat/app"
	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/callbackfault"
	"github.com/mulletgo/mullet/mullettest/faultstore"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// faultServer is the chat app behind the emulator with a store and a
// callback client of the test's choosing (mullettest.NewServer builds its
// own callback client).
type faultServer struct {
	url string
	ids chan string // connection IDs, in the order their $connect succeeded
}

func serveChat(t *testing.T, st store.Store, faults *callbackfault.Faults) *faultServer {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fs := &faultServer{ids: make(chan string, 1024)}
	var inv framework.Invoker
	srv, err := emulator.Listen("127.0.0.1:0", &emulator.Options{
		Manifest: app.New().Manifest(),
		Logger:   logger,
		Invoke: func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			resp, err := inv.Invoke(ctx, ev)
			if ev.RequestContext.EventType == "CONNECT" && err == nil && resp.StatusCode == http.StatusOK {
				fs.ids <- ev.RequestContext.ConnectionID
			}
			return resp, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 256}
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  &http.Client{Transport: transport},
	}
	newAPI := func(endpoint string) framework.CallbackAPI {
		api := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
			o.BaseEndpoint = aws.String(endpoint)
			o.Retryer = aws.NopRetryer{}
		})
		if faults == nil {
			return api
		}
		return faults.Wrap(api)
	}
	cb := framework.NewCallbackWithAPI(newAPI, &framework.CallbackOptions{Endpoint: srv.CallbackURL(), BaseBackoff: 2 * time.Millisecond})
	inv = app.New().Bind(&framework.Runtime{Store: st, Callback: cb, Logger: logger})
	fs.url = srv.WebSocketURL()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("emulator did not stop within 10s")
		}
		transport.CloseIdleConnections()
	})
	return fs
}

// dial connects a client and returns it with its connection ID.
func (fs *faultServer) dial(t *testing.T) (*mullettest.Client, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, fs.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	select {
	case id := <-fs.ids:
		return &mullettest.Client{Conn: c}, id
	case <-time.After(5 * time.Second):
		t.Fatal("no $connect recorded")
		return nil, ""
	}
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestBroadcastWithGoneConnectionsAndCallbackFaults: with 30% of a room's
// members gone (410) and the @connections API throttling (429) and failing
// (5xx) at random, a broadcast reaches every live member exactly once,
// removes every gone member's record and memberships, and the sender sees
// no error.
func TestBroadcastWithGoneConnectionsAndCallbackFaults(t *testing.T) {
	faults := callbackfault.New(callbackfault.Options{Throttle: 0.15, ServerError: 0.15, MaxConsecutive: 2, Seed: 42})
	st := memstore.New(nil)
	srv := serveChat(t, st, faults)
	const n = 30
	clients := make([]*mullettest.Client, n)
	ids := make([]string, n)
	for i := range n {
		clients[i], ids[i] = srv.dial(t)
		clients[i].Send(t, `{"action":"join","room":"r"}`)
		for j := 0; j <= i; j++ { // the join notice reaches every member so far
			if e := decode(t, clients[j].Read(t)); e.Type != "joined" {
				t.Fatalf("client %d got %+v", j, e)
			}
		}
	}
	// 30% of the room is gone as far as API Gateway is concerned: their
	// sockets died and their $disconnect has not run.
	gone := map[int]bool{}
	for i := 1; len(gone) < n*3/10; i += 3 {
		gone[i] = true
		faults.SetGone(ids[i])
	}
	for round := range 2 {
		text := fmt.Sprintf("round %d", round)
		clients[0].Send(t, `{"action":"send","room":"r","text":"`+text+`"}`)
		for i := range n {
			if gone[i] {
				continue
			}
			if e := decode(t, clients[i].Read(t)); e.Type != "message" || e.Text != text {
				t.Fatalf("round %d: client %d got %+v", round, i, e)
			}
		}
	}
	ctx := context.Background()
	members, err := st.GroupMembers(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for i := range n {
		_, err := st.GetConnection(ctx, ids[i])
		switch {
		case gone[i] && !errors.Is(err, store.ErrNotFound):
			t.Errorf("gone connection %d still has a record: %v", i, err)
		case !gone[i] && err != nil:
			t.Errorf("live connection %d lost its record: %v", i, err)
		}
		if !gone[i] {
			live = append(live, ids[i])
		}
	}
	sort.Strings(members)
	sort.Strings(live)
	if !slices.Equal(members, live) {
		t.Errorf("room members %v, want exactly the live connections %v", members, live)
	}
	s := faults.Stats()
	t.Logf("callback faults: %+v", s)
	if s.Gone != int64(len(gone)) {
		t.Errorf("%d posts to gone connections, want %d (each once: the first broadcast removes them)", s.Gone, len(gone))
	}
	if s.Throttled == 0 || s.ServerErrors == 0 {
		t.Errorf("stats %+v: the test injected no throttling or no server errors", s)
	}
	// No error frame and no duplicate, for the sender or anyone live.
	// (Last: a read that times out closes the client.)
	var wg sync.WaitGroup
	for i := range n {
		if !gone[i] {
			wg.Go(func() { clients[i].ExpectSilence(t, 300*time.Millisecond) })
		}
	}
	wg.Wait()
}

// TestStoreFaultsLoseNothing: with 5% of store calls failing (throttling,
// timeouts before and after the write, lost conditional writes), no nick
// change, no concurrent state update and no message is lost.
func TestStoreFaultsLoseNothing(t *testing.T) {
	fst := faultstore.New(memstore.New(nil), faultstore.Options{Rate: 0.05, Seed: 7})
	srv := serveChat(t, fst, nil)
	const (
		n     = 8  // clients
		nicks = 10 // nick changes per client, one after the other
		rooms = 10 // private rooms per client, joined all at once
		msgs  = 10 // messages per client to the lobby
	)
	clients := make([]*mullettest.Client, n)
	ids := make([]string, n)
	for i := range n {
		clients[i], ids[i] = srv.dial(t)
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for k := range nicks {
				nick := fmt.Sprintf("c%d-n%d", i, k)
				c.Send(t, `{"action":"nick","nick":"`+nick+`"}`)
				if e := decode(t, c.Read(t)); e.Type != "nick" || e.Nick != nick {
					t.Errorf("client %d: nick reply %+v", i, e)
					return
				}
			}
			// Concurrent updates of one connection's state: all frames
			// at once, each adding a room to the state.
			for r := range rooms {
				c.Send(t, fmt.Sprintf(`{"action":"join","room":"c%d-r%d"}`, i, r))
			}
			for range rooms {
				if e := decode(t, c.Read(t)); e.Type != "joined" {
					t.Errorf("client %d: join notice %+v", i, e)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, c := range clients {
		c.Send(t, `{"action":"join","room":"lobby"}`)
		for j := 0; j <= i; j++ {
			if e := decode(t, clients[j].Read(t)); e.Type != "joined" {
				t.Fatalf("lobby join: client %d got %+v", j, e)
			}
		}
	}
	for i, c := range clients {
		wg.Go(func() {
			for m := range msgs {
				c.Send(t, fmt.Sprintf(`{"action":"send","room":"lobby","text":"%d/%d"}`, i, m))
			}
		})
	}
	wg.Wait()
	for i, c := range clients {
		got := map[string]int{}
		for range n * msgs {
			e := decode(t, c.Read(t))
			if e.Type != "message" {
				t.Fatalf("client %d got %+v", i, e)
			}
			got[e.From+" "+e.Text]++
		}
		for j := range n {
			for m := range msgs {
				if k := fmt.Sprintf("c%d-n%d %d/%d", j, nicks-1, j, m); got[k] != 1 {
					t.Errorf("client %d received %q %d times", i, k, got[k])
				}
			}
		}
	}
	ctx := context.Background()
	for i, id := range ids {
		st, err := fst.LoadState(ctx, id)
		for errors.Is(err, faultstore.ErrTimeout) || err != nil && strings.Contains(err.Error(), "injected") {
			st, err = fst.LoadState(ctx, id)
		}
		if err != nil {
			t.Fatal(err)
		}
		var p app.Profile
		if err := json.Unmarshal(st.Data, &p); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("c%d-n%d", i, nicks-1); p.Nick != want {
			t.Errorf("client %d: nick %q, want %q", i, p.Nick, want)
		}
		for r := range rooms {
			if room := fmt.Sprintf("c%d-r%d", i, r); !slices.Contains(p.Rooms, room) {
				t.Errorf("client %d: lost the update that added %s: rooms %v", i, room, p.Rooms)
			}
		}
		if len(p.Rooms) != rooms+1 {
			t.Errorf("client %d: rooms %v, want %d", i, p.Rooms, rooms+1)
		}
	}
	s := fst.Stats()
	t.Logf("store faults: %+v", s)
	if s.Throttled+s.TimeoutsBefore+s.TimeoutsAfter+s.Conflicts == 0 {
		t.Fatal("no store fault was injected")
	}
}
