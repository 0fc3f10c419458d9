package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/mulletgo/mullet/client"
	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

type roomFrame struct {
	Room string `json:"room" schema:"minLength=1"`
}

type sayFrame struct {
	Room string `json:"room" schema:"minLength=1"`
	Text string `json:"text"`
}

type echoFrame struct {
	Text string `json:"text"`
}

// testApp has sessions and durable rooms holding window messages.
func testApp(window int) *framework.App[struct{}] {
	app := framework.New[struct{}]("clienttest", &framework.Options{Sessions: &framework.SessionOptions{TTL: time.Minute}})
	app.Groups("room", &framework.GroupOptions{Durable: true, Window: window, WindowTTL: time.Hour})
	framework.Handle(app, "join", func(ctx context.Context, c *framework.Conn[struct{}], m roomFrame) error {
		if err := c.Join(ctx, m.Room); err != nil {
			return err
		}
		return c.ReplyJSON(ctx, map[string]string{"joined": m.Room})
	}, nil)
	framework.Handle(app, "say", func(ctx context.Context, c *framework.Conn[struct{}], m sayFrame) error {
		_, err := c.BroadcastText(ctx, m.Room, m.Text)
		return err
	}, nil)
	framework.Handle(app, "whoami", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		return c.ReplyText(ctx, c.ConnectionID())
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "echo", func(ctx context.Context, c *framework.Conn[struct{}], m echoFrame) error {
		return c.ReplyJSON(ctx, m)
	}, nil)
	framework.Handle(app, "fail", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		return framework.Reject(http.StatusBadRequest, "no such thing")
	}, nil)
	framework.Handle(app, "silent", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		return nil
	}, nil)
	return app
}

// fast are options for tests: short waits everywhere.
func fast() *client.Options {
	return &client.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, GapTimeout: 200 * time.Millisecond, DialTimeout: 5 * time.Second}
}

// proxy forwards TCP connections to target; it can cut them all, refuse
// new ones, and cut each after a random life.
type proxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	conns   map[net.Conn]bool
	blocked bool
	life    func() time.Duration // nil: no automatic cuts
	cuts    atomic.Int64
	wg      sync.WaitGroup
}

func newProxy(t *testing.T, target string, life func() time.Duration) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}, life: life}
	p.wg.Go(p.serve)
	t.Cleanup(func() { ln.Close(); p.cutAll(); p.wg.Wait() })
	return p
}

// url is srv's websocket URL through the proxy.
func (p *proxy) url(srv *mullettest.Server) string {
	_, path, _ := strings.Cut(strings.TrimPrefix(srv.URL, "ws://"), "/")
	return "ws://" + p.ln.Addr().String() + "/" + path
}

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		blocked, life := p.blocked, p.life
		p.mu.Unlock()
		if blocked {
			in.Close()
			continue
		}
		p.wg.Go(func() {
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				return
			}
			p.mu.Lock()
			p.conns[in], p.conns[out] = true, true
			p.mu.Unlock()
			if life != nil {
				cut := time.AfterFunc(life(), func() { p.cuts.Add(1); in.Close(); out.Close() })
				defer cut.Stop()
			}
			var wg sync.WaitGroup
			wg.Go(func() { io.Copy(out, in); out.Close() })
			wg.Go(func() { io.Copy(in, out); in.Close() })
			wg.Wait()
			p.mu.Lock()
			delete(p.conns, in)
			delete(p.conns, out)
			p.mu.Unlock()
		})
	}
}

func (p *proxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.cuts.Add(1)
}

func (p *proxy) block(b bool) {
	p.mu.Lock()
	p.blocked = b
	p.mu.Unlock()
	if b {
		p.cutAll()
	}
}

func dial(t *testing.T, url string, opts *client.Options) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// request retries a request whose connection was lost.
func request(t *testing.T, c *client.Conn, v any) client.Message {
	t.Helper()
	for range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := c.Request(ctx, v)
		cancel()
		if errors.Is(err, client.ErrConnectionLost) || errors.Is(err, client.ErrRequestTimeout) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	t.Fatalf("request %v: no reply in 50 attempts", v)
	return client.Message{}
}

// streamTexts reads a room's stream from the store: the truth.
func streamTexts(t *testing.T, st store.Store, room string) ([]string, store.Position) {
	t.Helper()
	r, err := st.(store.Continuity).ReadStream(context.Background(), room, store.Position{}, store.StreamOptions{Window: 100000, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range r.Messages {
		out = append(out, string(m.Data[1:]))
	}
	return out, r.Tail
}

// receiveUntil collects durable messages of room until the client's
// position reaches tail.
func receiveUntil(t *testing.T, c *client.Conn, got *[]string, room string, tail store.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var at client.Position
	for {
		if at.Epoch == tail.Epoch && at.Offset == tail.Offset {
			return
		}
		rctx, rcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		m, err := c.Receive(rctx)
		rcancel()
		if ctx.Err() != nil {
			t.Fatalf("position %+v, tail %+v after %d messages", at, tail, len(*got))
		}
		if err != nil {
			continue
		}
		switch m.Kind {
		case client.KindDurable:
			if m.Group == room {
				*got = append(*got, string(m.Data))
				at = m.Position
			}
		case client.KindDiscontinuity, client.KindSessionLost:
			t.Fatalf("unexpected %s: %+v", m.Kind, m)
		}
	}
}

// TestThroughCuts: one session through every kind of cut (the client's own,
// a proxy cutting at random, DeleteConnection through the SDK, the
// emulator's MaxDuration) receives every message of its room exactly once
// and in stream order.
func TestThroughCuts(t *testing.T) {
	st := memstore.New(nil)
	srv := mullettest.NewServer(t, testApp(100000), &mullettest.Options{Store: st, MaxDuration: 1500 * time.Millisecond})
	px := newProxy(t, strings.SplitN(srv.URL, "/", 4)[2], func() time.Duration { return 200*time.Millisecond + rand.N(800*time.Millisecond) })
	c := dial(t, px.url(srv), fast())
	if m := request(t, c, map[string]string{"action": "join", "room": "room-a"}); !strings.Contains(string(m.Data), `"joined":"room-a"`) {
		t.Fatalf("join reply %q", m.Data)
	}
	session := c.Session().ID

	api := apigatewaymanagementapi.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
		func(o *apigatewaymanagementapi.Options) { o.BaseEndpoint = aws.String(srv.CallbackURL) })
	pub := dial(t, srv.URL, &client.Options{NoSession: true, MinBackoff: 10 * time.Millisecond})
	const total = 300
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			if err := pub.SendJSON(context.Background(), map[string]string{"action": "say", "room": "room-a", "text": fmt.Sprintf("m%d", i)}); err != nil {
				t.Error(err)
				return
			}
			switch i % 60 {
			case 20:
				c.Cut()
			case 40:
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if m, err := c.Request(ctx, map[string]string{"action": "whoami"}); err == nil {
					_, _ = api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(string(m.Data))})
				}
				cancel()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	<-done
	// Let the last frames be served, then take the stream as the store
	// holds it.
	var want []string
	var tail store.Position
	for stable := 0; stable < 3; {
		time.Sleep(200 * time.Millisecond)
		w, tl := streamTexts(t, st, "room-a")
		if tl == tail {
			stable++
		} else {
			stable = 0
		}
		want, tail = w, tl
	}
	receiveUntil(t, c, &got, "room-a", tail)
	s := c.Stats()
	t.Logf("published %d of %d; proxy cuts %d; connects %d, reconnects %d, replayed %d, duplicates dropped %d",
		len(want), total, px.cuts.Load(), s.Connects, s.Reconnects, s.Replayed, s.Duplicates)
	if !slices.Equal(got, want) {
		t.Fatalf("got %d messages, the stream holds %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	if s.Reconnects < 3 {
		t.Errorf("only %d reconnects: the cuts did not happen", s.Reconnects)
	}
	if c.Session().ID != session || s.SessionsLost != 0 {
		t.Errorf("session changed from %s to %s (%d lost)", session, c.Session().ID, s.SessionsLost)
	}
	if len(want) < total*9/10 {
		t.Errorf("only %d of %d published", len(want), total)
	}
}

// TestDiscontinuity: a client away while more than the window was
// published gets a discontinuity, never a silent gap.
func TestDiscontinuity(t *testing.T) {
	st := memstore.New(nil)
	srv := mullettest.NewServer(t, testApp(3), &mullettest.Options{Store: st})
	px := newProxy(t, strings.SplitN(srv.URL, "/", 4)[2], nil)
	c := dial(t, px.url(srv), fast())
	request(t, c, map[string]string{"action": "join", "room": "room-x"})
	pub := dial(t, srv.URL, &client.Options{NoSession: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub.SendJSON(ctx, map[string]string{"action": "say", "room": "room-x", "text": "first"})
	m, err := c.Receive(ctx)
	if err != nil || m.Kind != client.KindDurable || string(m.Data) != "first" {
		t.Fatalf("Receive = %+v, %v", m, err)
	}

	px.block(true)
	for i := range 10 {
		pub.SendJSON(ctx, map[string]string{"action": "say", "room": "room-x", "text": fmt.Sprint("away", i)})
	}
	// Wait until the stream holds them all.
	for {
		texts, tail := streamTexts(t, st, "room-x")
		if tail.Offset == 11 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the stream holds %v; publisher stats %+v", texts, pub.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	px.block(false)
	m, err = c.Receive(ctx)
	if err != nil || m.Kind != client.KindDiscontinuity || m.Group != "room-x" || m.From.Offset != 1 {
		t.Fatalf("Receive = %+v, %v; want a discontinuity of room-x from offset 1", m, err)
	}
	pub.SendJSON(ctx, map[string]string{"action": "say", "room": "room-x", "text": "after"})
	m, err = c.Receive(ctx)
	if err != nil || m.Kind != client.KindDurable || string(m.Data) != "after" {
		t.Fatalf("Receive = %+v, %v; want the message after the discontinuity", m, err)
	}
}

func TestRequest(t *testing.T) {
	srv := mullettest.NewServer(t, testApp(10), nil)
	c := dial(t, srv.URL, fast())
	ctx := context.Background()
	m, err := c.Request(ctx, map[string]string{"action": "echo", "text": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := client.Decode[echoFrame](m)
	if err != nil || e.Text != "hi" {
		t.Fatalf("Decode = %+v, %v", e, err)
	}
	// A text reply is unwrapped from $reply.
	if m, err := c.Request(ctx, map[string]string{"action": "whoami"}); err != nil || len(m.Data) != 16 {
		t.Fatalf("whoami = %q, %v", m.Data, err)
	}
	// An error frame of the app is a *ReplyError.
	var re *client.ReplyError
	if _, err := c.Request(ctx, map[string]any{"action": "fail"}); !errors.As(err, &re) || re.Message != "no such thing" {
		t.Fatalf("a refused request: %v", err)
	}
	// No reply: the request times out.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := c.Request(short, map[string]string{"action": "silent"}); !errors.Is(err, client.ErrRequestTimeout) {
		t.Fatalf("silent = %v, want ErrRequestTimeout", err)
	}
	// Options.RequestTimeout applies without a deadline.
	c2 := dial(t, srv.URL, &client.Options{RequestTimeout: 100 * time.Millisecond})
	if _, err := c2.Request(ctx, map[string]string{"action": "silent"}); !errors.Is(err, client.ErrRequestTimeout) {
		t.Fatalf("silent = %v, want ErrRequestTimeout", err)
	}
	if _, err := c.Request(ctx, []int{1}); !errors.Is(err, client.ErrNotObject) {
		t.Fatalf("an array: %v, want ErrNotObject", err)
	}
}

// TestQueue: sends while disconnected are queued up to the bound and go
// out, in order, on the next connection; beyond it Send says so.
func TestQueue(t *testing.T) {
	srv := mullettest.NewServer(t, testApp(10), nil)
	px := newProxy(t, strings.SplitN(srv.URL, "/", 4)[2], nil)
	opts := fast()
	opts.SendQueue = 3
	c := dial(t, px.url(srv), opts)
	px.block(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for c.Connected() {
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 3 {
		if err := c.SendJSON(ctx, map[string]string{"action": "echo", "text": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SendJSON(ctx, map[string]string{"action": "echo", "text": "3"}); !errors.Is(err, client.ErrQueueFull) {
		t.Fatalf("the fourth Send = %v, want ErrQueueFull", err)
	}
	px.block(false)
	seen := map[string]bool{}
	for len(seen) < 3 {
		m, err := c.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e, err := client.Decode[echoFrame](m)
		if err != nil {
			t.Fatalf("%q: %v", m.Raw, err)
		}
		seen[e.Text] = true
	}
	if !seen["0"] || !seen["1"] || !seen["2"] {
		t.Fatalf("replies %v", seen)
	}
}

// TestUpgradeHook: the hook runs on every upgrade, sees the session, and
// what it adds reaches $connect.
func TestUpgradeHook(t *testing.T) {
	app := testApp(10)
	var keys atomic.Int64
	app.Authorize(func(ctx context.Context, r *framework.ConnectRequest) (framework.AuthContext, error) {
		if r.Header.Get("x-api-key") != "k1" {
			return nil, framework.Reject(http.StatusUnauthorized, "no key")
		}
		keys.Add(1)
		return nil, nil
	}, nil)
	srv := mullettest.NewServer(t, app, nil)
	var calls atomic.Int64
	opts := fast()
	opts.Upgrade = func(ctx context.Context, r *http.Request) error {
		calls.Add(1)
		if r.URL.Query().Get("mullet_session") == "" {
			return errors.New("no session in the URL")
		}
		r.Header.Set("x-api-key", "k1")
		return nil
	}
	c := dial(t, srv.URL, opts)
	request(t, c, map[string]string{"action": "whoami"})
	c.Cut() // returns once dropped: the next request goes on a new connection
	request(t, c, map[string]string{"action": "whoami"})
	if calls.Load() < 2 || keys.Load() < 2 {
		t.Fatalf("hook called %d times, authorizer passed %d", calls.Load(), keys.Load())
	}
	// Without the key the first upgrade is refused with a HandshakeError.
	_, err := client.Dial(context.Background(), srv.URL, nil)
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized && he.Status != http.StatusForbidden {
		t.Fatalf("Dial without the key = %v", err)
	}
}

// TestSessionLost: a session that cannot be resumed is replaced, and the
// caller is told.
func TestSessionLost(t *testing.T) {
	srv := mullettest.NewServer(t, testApp(10), nil)
	c := dial(t, srv.URL, &client.Options{Resume: &client.SessionState{ID: "AAAAAAAAAAAAAAAAAAAAAA", Secret: "forged-secret-forged-secret-forged-secret12"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.Receive(ctx)
	if err != nil || m.Kind != client.KindSessionLost || m.Session == "AAAAAAAAAAAAAAAAAAAAAA" {
		t.Fatalf("Receive = %+v, %v; want KindSessionLost with a new session", m, err)
	}
}

// TestPlainServer: an app without sessions sees the client as any client:
// the sync it sends is answered and swallowed, frames come as they are.
func TestPlainServer(t *testing.T) {
	app := framework.New[struct{}]("plain", nil)
	framework.Handle(app, "echo", func(ctx context.Context, c *framework.Conn[struct{}], m echoFrame) error {
		return c.ReplyJSON(ctx, m)
	}, nil)
	srv := mullettest.NewServer(t, app, nil)
	c := dial(t, srv.URL, fast())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Send(ctx, []byte(`{"action":"echo","text":"plain"}`))
	m, err := c.Receive(ctx)
	if err != nil || m.Kind != client.KindApp || string(m.Raw) != `{"text":"plain"}` {
		t.Fatalf("Receive = %+v (%q), %v", m, m.Raw, err)
	}
}

func TestClose(t *testing.T) {
	srv := mullettest.NewServer(t, testApp(10), nil)
	c := dial(t, srv.URL, nil)
	c.Close()
	if _, err := c.Receive(context.Background()); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Receive after Close = %v", err)
	}
	if err := c.Send(context.Background(), []byte("x")); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
}

// TestReplayInPages: a client that missed more than a page of messages
// gets them in pages ("more": true) and delivers every one once, in order.
func TestReplayInPages(t *testing.T) {
	st := memstore.New(nil)
	srv := mullettest.NewServer(t, testApp(1000), &mullettest.Options{Store: st})
	px := newProxy(t, strings.SplitN(srv.URL, "/", 4)[2], nil)
	c := dial(t, px.url(srv), fast())
	request(t, c, map[string]string{"action": "join", "room": "room-p"})
	pub := dial(t, srv.URL, &client.Options{NoSession: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	px.block(true)
	missed := 2*framework.ReplayPage + 10
	for i := range missed {
		if err := pub.SendJSON(ctx, map[string]string{"action": "say", "room": "room-p", "text": fmt.Sprint("m", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for {
		texts, tail := streamTexts(t, st, "room-p")
		if tail.Offset == int64(missed) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the stream holds %d messages", len(texts))
		}
		time.Sleep(20 * time.Millisecond)
	}
	px.block(false)
	want, _ := streamTexts(t, st, "room-p")
	var got []string
	for len(got) < len(want) {
		m, err := c.Receive(ctx)
		if err != nil {
			t.Fatalf("after %d of %d: %v", len(got), len(want), err)
		}
		if m.Kind == client.KindDurable {
			got = append(got, string(m.Data))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %v\nthe stream holds %v", got, want)
	}
}
