package emulator

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"

	"github.com/mulletgo/mullet/manifest"
)

// fuzzFrame encodes a client frame masked with key (the payload is XORed
// with it, as RFC 6455 requires).
func fuzzFrame(fin bool, op ws.OpCode, key [4]byte, payload []byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	default:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	}
	out = append(out, key[:]...)
	p := append([]byte(nil), payload...)
	ws.Cipher(p, key, 0)
	return append(out, p...)
}

// FuzzFrames feeds arbitrary bytes to a connection's read loop as the
// client's side of an established WebSocket, and then hangs up. The
// emulator must not panic, must not hang, and must fire exactly one
// $disconnect. Small limits (64-byte frames, 256-byte messages) let short
// inputs reach the size checks.
func FuzzFrames(f *testing.F) {
	k := [4]byte{1, 2, 3, 4}
	text := func(s string) []byte { return fuzzFrame(true, ws.OpText, k, []byte(s)) }
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	for _, seed := range [][]byte{
		{},
		text(`{"action":"echo","name":"x"}`),
		text(`{"action":"echo"}`),
		text(`hello`),
		cat(text(`{"action":"echo","name":"a"}`), text(`{"action":"other"}`), fuzzFrame(true, ws.OpPing, k, []byte("p"))),
		cat(fuzzFrame(false, ws.OpText, k, []byte(`{"action":`)), fuzzFrame(true, ws.OpContinuation, k, []byte(`"echo","name":"b"}`))),
		fuzzFrame(true, ws.OpClose, k, []byte{0x03, 0xe8, 'b', 'y', 'e'}),
		fuzzFrame(true, ws.OpClose, k, []byte{0x03}),
		fuzzFrame(true, ws.OpBinary, k, []byte("bin")),
		fuzzFrame(true, ws.OpText, k, make([]byte, 65)),
		cat(fuzzFrame(false, ws.OpText, k, make([]byte, 64)), fuzzFrame(false, ws.OpContinuation, k, make([]byte, 64)), fuzzFrame(false, ws.OpContinuation, k, make([]byte, 64)), fuzzFrame(false, ws.OpContinuation, k, make([]byte, 64)), fuzzFrame(true, ws.OpContinuation, k, []byte("x"))),
		{0x81, 0x02, 'h', 'i'},
		{0xc1, 0x80, 0, 0, 0, 0},
		{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4},
		{0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4},
		{0x89, 0xfe, 0x00, 0x7e},
		text("\xff\xfe"),
		cat(fuzzFrame(true, ws.OpClose, k, []byte{0x03, 0xe8}), text(`{"action":"echo","name":"late"}`)),
	} {
		f.Add(seed)
	}
	var (
		mu          sync.Mutex
		disconnects = map[string]int{}
	)
	e, err := New(&Options{
		Manifest: &manifest.Manifest{
			Version: manifest.Version, Name: "fuzz", RouteSelectionExpression: "$request.body.action",
			Routes: []manifest.Route{
				{Key: manifest.RouteConnect}, {Key: manifest.RouteDisconnect}, {Key: manifest.RouteDefault, TwoWay: true},
				{Key: "echo", TwoWay: true, Model: "EchoModel", Schema: json.RawMessage(`{"type":"object","properties":{"action":{"type":"string"},"name":{"type":"string","minLength":1}},"required":["name"],"additionalProperties":false}`)},
			},
		},
		Invoke: func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			if ev.RequestContext.EventType == eventDisconnect {
				mu.Lock()
				disconnects[ev.RequestContext.ConnectionID]++
				mu.Unlock()
			}
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.Body}, nil
		},
		MaxFrameSize:   64,
		MaxMessageSize: 256,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		server, client := net.Pipe()
		now := time.Now()
		c := &conn{e: e, id: newID(), sourceIP: "127.0.0.1", domainName: "fuzz", connectedAt: now, start: now,
			nc: server, br: bufio.NewReader(server)}
		c.lastActive.Store(now.UnixNano())
		c.startWriter()
		if !e.begin() || !e.register(c) {
			t.Fatal("emulator closed")
		}
		served := make(chan struct{})
		go func() {
			defer close(served)
			c.serve()
		}()
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			_, _ = io.Copy(io.Discard, client) // whatever the emulator answers
		}()
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = client.Write(data) // the emulator may stop reading early
		_ = client.Close()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Fatalf("read loop still running 5s after the client hung up on %q", data)
		}
		<-drained
		e.invokeWG.Wait()
		mu.Lock()
		n := disconnects[c.id]
		delete(disconnects, c.id)
		mu.Unlock()
		if n != 1 {
			t.Fatalf("%d $disconnect events for %q, want exactly 1", n, data)
		}
		if e.lookup(c.id) != nil {
			t.Fatal("connection still registered after it ended")
		}
	})
}
