package loadgen

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestFrameConn runs the echo mode's client against a coder/websocket
// server that pings it, echoes messages of every length encoding, and
// closes.
func TestFrameConn(t *testing.T) {
	pinged := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		ctx := r.Context()
		for i := 0; ; i++ {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if string(data) == "close" {
				c.Close(websocket.StatusNormalClosure, "")
				return
			}
			if i == 0 {
				// The pong comes back while the client waits for the echo;
				// Ping needs a reader, so it runs beside CloseRead's.
				go func() {
					pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					defer cancel()
					pinged <- c.Ping(pctx)
				}()
				time.Sleep(50 * time.Millisecond)
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conns, err := dialFrameConns(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), 1)
	if err != nil {
		t.Fatal(err)
	}
	c := conns[0]
	defer c.close()
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range []int{5, 125, 126, 65535, 65536, 70000} {
		msg := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		if err := c.writeText(msg); err != nil {
			t.Fatal(err)
		}
		got, err := c.readMessage(deadline)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: echo differs (%d bytes back)", n, len(got))
		}
		if n == 5 {
			if err := <-pinged; err != nil {
				t.Fatalf("the server's ping got no pong: %v", err)
			}
		}
	}
	if err := c.writeText([]byte("close")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.readMessage(deadline); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("after the server's close frame: %v, want an error", err)
	}
}
