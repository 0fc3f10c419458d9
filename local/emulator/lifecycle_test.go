package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/local/emulator"
)

// TestHandler serves the emulator from httptest instead of a Server: it is
// an http.Handler.
func TestHandler(t *testing.T) {
	rec := newRecorder()
	emu, err := emulator.New(&emulator.Options{Manifest: testManifest(), Invoke: rec.invoke, Stage: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(emu)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if got := roundTrip(t, c, `{"action":"echo"}`); got != `echo {"action":"echo"}` {
		t.Fatalf("reply %q", got)
	}
	closed := make(chan error, 1)
	go func() { closed <- emu.Close() }()
	expectClose(t, c, websocket.StatusGoingAway)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	rec.checkDisconnects(t)
}

// TestConcurrentWrites races @connections posts against route responses on
// one socket: every frame must arrive whole.
func TestConcurrentWrites(t *testing.T) {
	srv, rec := startServer(t, nil)
	c, id := dial(t, srv, rec, "writes")
	const n = 50
	payload := strings.Repeat("p", 40*1024) // two frames each
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, srv.CallbackURL()+"/@connections/"+id, strings.NewReader(payload))
			signRequest(t, req, payload)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("POST: %v", err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("POST: %d", resp.StatusCode)
			}
		}()
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			if err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "m%d", i)); err != nil {
				t.Errorf("write: %v", err)
			}
		}()
	}
	posts, replies := 0, 0
	for posts+replies < 2*n {
		switch got := read(t, c); {
		case got == payload:
			posts++
		case strings.HasPrefix(got, "$default m"):
			replies++
		default:
			t.Fatalf("corrupt message of %d bytes: %.40q", len(got), got)
		}
	}
	wg.Wait()
}

// TestBadInputLeavesOthersServing opens several connections, ends each with
// a different kind of bad input and checks that a bystander and new
// connections are served throughout.
func TestBadInputLeavesOthersServing(t *testing.T) {
	srv, rec := startServer(t, nil)
	bystander, _ := dial(t, srv, rec, "bystander")
	bad := []func(c *websocket.Conn){
		func(c *websocket.Conn) { _ = c.Write(context.Background(), websocket.MessageBinary, []byte{1}) },
		func(c *websocket.Conn) {
			_ = c.Write(context.Background(), websocket.MessageText, make([]byte, 40*1024))
		},
		func(c *websocket.Conn) { _ = c.CloseNow() },
		func(c *websocket.Conn) { send(t, c, `{"action":"fail"}`) },
	}
	for i, f := range bad {
		c, _ := dial(t, srv, rec, fmt.Sprintf("bad%d", i))
		f(c)
		if got := roundTrip(t, bystander, "still here"); got != "$default still here" {
			t.Fatalf("after bad input %d: %q", i, got)
		}
		fresh, _ := dial(t, srv, rec, fmt.Sprintf("fresh%d", i))
		if got := roundTrip(t, fresh, "hi"); got != "$default hi" {
			t.Fatalf("new connection after bad input %d: %q", i, got)
		}
		_ = fresh.Close(websocket.StatusNormalClosure, "")
	}
}

// TestNoGoroutineLeak checks that connections, messages and @connections
// posts leave no goroutine behind once the connections are closed.
func TestNoGoroutineLeak(t *testing.T) {
	srv, rec := startServer(t, nil)
	client := &http.Client{Transport: &http.Transport{}}
	// Warm up, so that the server's own goroutines are running.
	warm, warmID := dial(t, srv, rec, "warmup")
	_ = warm.Close(websocket.StatusNormalClosure, "")
	rec.disconnectEvent(t, warmID)
	time.Sleep(50 * time.Millisecond)
	baseline := runtime.NumGoroutine()

	const n = 20
	ids := make([]string, n)
	for i := range n {
		c, id := dial(t, srv, rec, fmt.Sprintf("leak%d", i))
		ids[i] = id
		if got := roundTrip(t, c, `{"action":"echo"}`); got != `echo {"action":"echo"}` {
			t.Fatalf("reply %q", got)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.CallbackURL()+"/@connections/"+id, strings.NewReader("push"))
		signRequest(t, req, "push")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := read(t, c); got != "push" {
			t.Fatalf("read %q", got)
		}
		send(t, c, `{"action":"oneway"}`)
		if i%2 == 0 {
			_ = c.Close(websocket.StatusNormalClosure, "")
		} else {
			_ = c.CloseNow()
		}
	}
	for _, id := range ids {
		rec.disconnectEvent(t, id)
	}
	client.CloseIdleConnections()

	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines; baseline %d\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSubprotocol checks that a Sec-WebSocket-Protocol header returned by
// $connect completes the handshake with that subprotocol.
func TestSubprotocol(t *testing.T) {
	srv, rec := startServer(t, nil)
	rec.handle = func(_ context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, bool, error) {
		if ev.RequestContext.EventType != "CONNECT" {
			return events.APIGatewayProxyResponse{}, false, nil
		}
		return events.APIGatewayProxyResponse{StatusCode: 200, Headers: map[string]string{"Sec-WebSocket-Protocol": "chat.v2"}}, true, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.WebSocketURL(), &websocket.DialOptions{Subprotocols: []string{"chat.v1", "chat.v2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	if got := c.Subprotocol(); got != "chat.v2" {
		t.Fatalf("subprotocol %q; want chat.v2", got)
	}
}

// TestShutdownDeadline shuts down while a client ignores the close frame:
// Shutdown gives up when its ctx ends, and the connection still gets its
// one $disconnect.
func TestShutdownDeadline(t *testing.T) {
	srv, rec := startServer(t, nil)
	_, id := rawDial(t, srv, rec, "deaf") // never reads, never answers the close frame
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := srv.Emulator().Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v; want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
	rc := rec.disconnectEvent(t, id).RequestContext
	if rc.DisconnectStatusCode != 1001 {
		t.Errorf("disconnectStatusCode %d; want 1001", rc.DisconnectStatusCode)
	}
}
