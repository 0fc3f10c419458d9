package mullettest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/client"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	chaosapp "github.com/mulletgo/mullet/mullettest/testdata/chaos/app"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/dynamostore"
	"github.com/mulletgo/mullet/store/memstore"
)

// cuttingProxy forwards TCP connections to target and cuts each one,
// both ways and without a close handshake, after a random 0.2-3 s.
type cuttingProxy struct {
	ln     net.Listener
	target string
	cuts   atomic.Int64
	wg     sync.WaitGroup
}

func newCuttingProxy(t *testing.T, target string) *cuttingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *cuttingProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() {
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				return
			}
			life := 200*time.Millisecond + rand.N(2800*time.Millisecond)
			cut := time.AfterFunc(life, func() { p.cuts.Add(1); in.Close(); out.Close() })
			var wg sync.WaitGroup
			wg.Go(func() { io.Copy(out, in); out.Close() })
			wg.Go(func() { io.Copy(in, out); in.Close() })
			wg.Wait()
			cut.Stop()
		})
	}
}

// receiver keeps one session through every cut with package client (the
// Go client of docs/protocol.md) and records what it delivers.
type receiver struct {
	id    int
	rooms []string

	mu     sync.Mutex
	conn   *client.Conn
	pos    map[string]store.Position
	got    map[string][]string
	joined bool
}

// run dials, joins the receiver's rooms with requests, and receives until
// ctx ends.
func (r *receiver) run(ctx context.Context, url string, logger *slog.Logger) {
	opts := &client.Options{Logger: logger, OnStatus: func(st client.Status) {
		logger.Debug("receiver status", "connected", st.Connected, "attempt", st.Attempt, "err", st.Err, "session", st.Session, "resumed", st.Resumed, "newSession", st.NewSession)
	}, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, GapTimeout: 300 * time.Millisecond}
	var c *client.Conn
	for ctx.Err() == nil {
		var err error
		if c, err = client.Dial(ctx, url, opts); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // the proxy cut the handshake
	}
	if c == nil {
		return
	}
	defer c.Close()
	r.mu.Lock()
	r.conn = c
	r.mu.Unlock()
	for _, room := range r.rooms {
		for ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := c.Request(rctx, map[string]string{"action": "join", "room": room})
			cancel()
			if err == nil {
				break
			}
		}
	}
	r.mu.Lock()
	r.joined = true
	r.mu.Unlock()
	for {
		m, err := c.Receive(ctx)
		if err != nil {
			return
		}
		if m.Kind == client.KindDurable {
			r.mu.Lock()
			r.got[m.Group] = append(r.got[m.Group], string(m.Data))
			r.pos[m.Group] = store.Position{Epoch: m.Position.Epoch, Offset: m.Position.Offset}
			r.mu.Unlock()
		}
	}
}

// TestChaos: receivers behind a proxy that cuts every connection after a
// random 0.2-3 s, on an emulator whose MaxDuration cuts the rest, resume
// their sessions and end with every message of their rooms exactly once
// and in stream order; on the memory store, on DynamoDB (dynalite), and
// with the app's binary run as Lambda instances. By default 600, 200 and
// 100 messages; MULLET_CHAOS_MESSAGES sets the count for all three (the
// full run: 20000), and MULLET_CHAOS_LOG a file for the server's and the
// clients' debug logs.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos runs for seconds")
	}
	total := 600
	if v := os.Getenv("MULLET_CHAOS_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("MULLET_CHAOS_MESSAGES=%q: %v", v, err)
		}
		total = n
	}
	// Each backend returns the server and the store the test reads the
	// streams from, the truth to compare with.
	backends := []struct {
		name  string
		size  int // the default message count
		serve func(t *testing.T, o *mullettest.Options) (*mullettest.Server, store.Continuity)
	}{
		{"memory", total, func(t *testing.T, o *mullettest.Options) (*mullettest.Server, store.Continuity) {
			st := memstore.New(nil)
			o.Store = st
			return mullettest.NewServer(t, chaosapp.New(), o), st
		}},
		{"dynamodb", total / 3, func(t *testing.T, o *mullettest.Options) (*mullettest.Server, store.Continuity) {
			st := dynalitetest.NewStore(t)
			o.Store = st
			return mullettest.NewServer(t, chaosapp.New(), o), st
		}},
		// The app's own binary as Lambda instances (as mullet dev
		// -runtime lambda runs it), sharing a dynalite table.
		{"lambda", total / 6, func(t *testing.T, o *mullettest.Options) (*mullettest.Server, store.Continuity) {
			db := dynalitetest.Start(t)
			table := db.NewTable(t)
			o.Lambda = &mullettest.Lambda{MainDir: "testdata/chaos", Table: table, DynamoDBEndpoint: db.Endpoint}
			return mullettest.NewServer(t, nil, o), dynamostore.New(db.NewClient(t), table, nil)
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			n := b.size
			if os.Getenv("MULLET_CHAOS_MESSAGES") != "" {
				n = total
			}
			testChaos(t, n, b.serve)
		})
	}
}

// A chaos run's receivers may take until catchUpLimit after the streams
// stopped growing to reach their tails, as long as none goes catchUpStall
// without delivering a message.
const (
	catchUpStall = 30 * time.Second
	catchUpLimit = 15 * time.Minute
)

// deleteConnections deletes, every 300 ms until ctx ends, the current
// connection of a random receiver through @connections (the session in
// the store names it), counting the deletions that succeeded.
func deleteConnections(ctx context.Context, callbackURL string, cont store.Continuity, rs []*receiver, deleted *atomic.Int64) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(emulator.DefaultAccessKeyID, emulator.DefaultSecretAccessKey, "")}
	api := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) { o.BaseEndpoint = aws.String(callbackURL) })
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r := rs[rand.IntN(len(rs))]
		r.mu.Lock()
		c := r.conn
		r.mu.Unlock()
		if c == nil {
			continue
		}
		sess, err := cont.GetSession(ctx, c.Session().ID)
		if err != nil || sess.ConnectionID == "" {
			continue
		}
		if _, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(sess.ConnectionID)}); err == nil {
			deleted.Add(1)
		}
	}
}

// senderWindow is how many frames a chaos sender leaves unanswered.
const senderWindow = 4

// senderConn is a sender's connection: slots holds a token per frame not
// answered yet; lost is closed when the connection ends.
type senderConn struct {
	c     *mullettest.Client
	slots chan struct{}
	lost  chan struct{}
}

func dialSender(ctx context.Context, srv *mullettest.Server) *senderConn {
	for ctx.Err() == nil {
		c, err := srv.DialErr(ctx, nil)
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		sc := &senderConn{c: c, slots: make(chan struct{}, senderWindow), lost: make(chan struct{})}
		go func() {
			defer close(sc.lost)
			for {
				if _, _, err := c.Conn.Read(ctx); err != nil {
					return
				}
				select {
				case <-sc.slots:
				default:
				}
			}
		}()
		return sc
	}
	return nil
}

// runSender sends frames s, s+senders, ... below total, each tagged with a
// $rid so that the app answers it.
func runSender(ctx context.Context, srv *mullettest.Server, s, senders, total int, rooms []string, sent *atomic.Int64) {
	var sc *senderConn
	for i := s; i < total; i += senders {
		for ctx.Err() == nil {
			if sc == nil {
				if sc = dialSender(ctx, srv); sc == nil {
					return
				}
			}
			select {
			case sc.slots <- struct{}{}:
			case <-sc.lost:
				sc = nil
				continue
			}
			frame := fmt.Sprintf(`{"$rid":"%d","action":"say","room":%q,"text":"s%d-%d"}`, i, rooms[i%3], s, i)
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := sc.c.Conn.Write(wctx, websocket.MessageText, []byte(frame))
			cancel()
			if err != nil {
				sc.c.Conn.CloseNow()
				sc = nil
				continue
			}
			sent.Add(1)
			break
		}
	}
	if sc == nil {
		return
	}
	// Let the last frames be answered.
	deadline := time.After(10 * time.Second)
	for len(sc.slots) > 0 {
		select {
		case <-sc.lost:
			return
		case <-deadline:
			sc.c.Conn.CloseNow()
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	sc.c.Conn.Close(websocket.StatusNormalClosure, "")
}

// chaosLogger discards the server's and the clients' logs, or writes them
// (debug level) to the file MULLET_CHAOS_LOG names, to find out why a run
// failed.
func chaosLogger(t *testing.T) *slog.Logger {
	path := os.Getenv("MULLET_CHAOS_LOG")
	if path == "" {
		return slog.New(slog.DiscardHandler)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func testChaos(t *testing.T, total int, serve func(*testing.T, *mullettest.Options) (*mullettest.Server, store.Continuity)) {
	const senders, receivers = 10, 20
	rooms := []string{"room-a", "room-b", "room-c"}
	logger := chaosLogger(t)
	srv, cont := serve(t, &mullettest.Options{MaxDuration: 4 * time.Second, Logger: logger})
	host := strings.TrimPrefix(srv.URL, "ws://")
	host, path, _ := strings.Cut(host, "/")
	proxy := newCuttingProxy(t, host)
	viaProxy := "ws://" + proxy.ln.Addr().String() + "/" + path

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rs := make([]*receiver, receivers)
	var wg sync.WaitGroup
	for i := range rs {
		r := &receiver{id: i, pos: map[string]store.Position{}, got: map[string][]string{}}
		r.rooms = []string{rooms[i%3], rooms[(i+1)%3]}
		rs[i] = r
		wg.Go(func() { r.run(ctx, viaProxy, logger.With("receiver", i)) })
	}
	// Wait until every receiver has joined its rooms.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ready := 0
		for _, r := range rs {
			r.mu.Lock()
			if r.joined {
				ready++
			}
			r.mu.Unlock()
		}
		if ready == receivers {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d receivers joined", ready, receivers)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Senders: plain connections straight to the emulator (MaxDuration
	// still cuts them); a frame lost with a cut is simply not published.
	// Each keeps at most senderWindow frames unanswered, as a client that
	// waits for its requests does, so that the run measures continuity
	// rather than a backlog beyond what the machine serves.
	started := time.Now()
	var sent, deleted atomic.Int64
	// While they send, DeleteConnection through @connections cuts a
	// random receiver's connection every 300 ms, as an app or an
	// operator would.
	delCtx, stopDeleting := context.WithCancel(ctx)
	var dwg sync.WaitGroup
	dwg.Go(func() { deleteConnections(delCtx, srv.CallbackURL, cont, rs, &deleted) })
	var swg sync.WaitGroup
	for s := range senders {
		swg.Go(func() { runSender(ctx, srv, s, senders, total, rooms, &sent) })
	}
	swg.Wait()
	sendTime := time.Since(started)
	stopDeleting()
	dwg.Wait()
	if sendTime > 2*time.Second && deleted.Load() == 0 {
		t.Errorf("no connection was deleted in %v of sending", sendTime)
	}

	// The streams as the store holds them are the truth.
	want := map[string][]string{}
	tails := map[string]store.Position{}
	// Frames already sent may still be queued in the emulator: wait until
	// the streams stop growing.
	var last []store.Position
	for stable := 0; stable < 3; {
		time.Sleep(300 * time.Millisecond)
		var now []store.Position
		for _, room := range rooms {
			p, err := cont.StreamTail(context.Background(), room)
			if err != nil {
				t.Fatal(err)
			}
			now = append(now, p)
		}
		if slices.Equal(now, last) {
			stable++
		} else {
			stable = 0
		}
		last = now
	}
	for _, room := range rooms {
		r, err := cont.ReadStream(context.Background(), room, store.Position{}, store.StreamOptions{Window: chaosapp.Window, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Messages {
			want[room] = append(want[room], string(m.Data[1:]))
		}
		tails[room] = r.Tail
	}
	// Wait for every receiver to reach the tails, still through cuts: as
	// long as they make progress (a run larger than the machine serves
	// live ends with a backlog of replays), and at most catchUpLimit.
	catchUpStart := time.Now()
	lastProgress, delivered := time.Now(), -1
	for {
		behind, n := 0, 0
		for _, r := range rs {
			r.mu.Lock()
			for _, room := range r.rooms {
				n += len(r.got[room])
				if r.pos[room] != tails[room] {
					behind++
				}
			}
			r.mu.Unlock()
		}
		if n != delivered {
			lastProgress, delivered = time.Now(), n
		}
		if behind == 0 || time.Since(lastProgress) > catchUpStall || time.Since(catchUpStart) > catchUpLimit {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	catchUp := time.Since(catchUpStart)
	cancel()
	wg.Wait()

	published := 0
	for _, room := range rooms {
		published += len(want[room])
	}
	var lost, dup, reordered, reconnects, replays, discs, dropped, sessionsLost int
	var lat []time.Duration
	for i, r := range rs {
		st := r.conn.Stats()
		reconnects += st.Reconnects
		replays += st.Replayed
		discs += st.Discontinuities
		sessionsLost += st.SessionsLost
		dropped += st.Duplicates
		lat = append(lat, st.ResumeLatencies...)
		for _, room := range r.rooms {
			got, exp := r.got[room], want[room]
			seen := map[string]int{}
			for _, x := range got {
				seen[x]++
			}
			for _, x := range exp {
				switch seen[x] {
				case 0:
					lost++
				case 1:
				default:
					dup += seen[x] - 1
				}
			}
			if !slices.Equal(got, exp) {
				if len(got) == len(exp) {
					reordered++
				}
				t.Errorf("receiver %d, %s: got %d messages, the stream holds %d (position %+v, tail %+v)", i, room, len(got), len(exp), r.pos[room], tails[room])
			}
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))].Round(time.Millisecond)
	}
	t.Logf("chaos: %d messages sent in %v, %d published, receivers caught up %v later; proxy cuts %d, DeleteConnection cuts %d; reconnects %d, replayed %d, duplicate frames dropped %d, discontinuities %d, sessions lost %d; resume latency (cut to synced, backoff included) p50 %v p99 %v; lost %d, duplicated %d, reordered %d",
		sent.Load(), sendTime.Round(time.Millisecond), published, catchUp.Round(100*time.Millisecond), proxy.cuts.Load(), deleted.Load(), reconnects, replays, dropped, discs, sessionsLost, pct(0.5), pct(0.99), lost, dup, reordered)
	if lost+dup+reordered+discs+sessionsLost > 0 {
		t.Fatalf("lost %d, duplicated %d, reordered %d, discontinuities %d, sessions lost %d: want none", lost, dup, reordered, discs, sessionsLost)
	}
	if published < int(sent.Load())*9/10 {
		t.Errorf("only %d of %d sent frames were published", published, sent.Load())
	}
}
