package emulator_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/local/emulator"
)

// benchPayload is a typical push: a small JSON document.
var benchPayload = []byte(`{"type":"paired","peer":{"ip":"203.0.113.7","port":40123},"key":"abcdef0123456789"}`)

// BenchmarkPost measures a push end to end: PostToConnection through the
// unmodified SDK client (signing included), and the client reading it.
func BenchmarkPost(b *testing.B) {
	srv, rec := startServer(b, nil)
	api := sdkClient(b, srv)
	c, id := dial(b, srv, rec, "bench")
	ctx := context.Background()
	in := &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: benchPayload}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := api.PostToConnection(ctx, in); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPostHandler measures the emulator's share of a push: the
// @connections handler writing the frame to the socket, called directly
// with a reused request and response writer. A client drains the socket.
// "signed" includes verifying the request's SigV4 signature;
// "any-signature" is Options.AnySignature, which checks only its shape.
func BenchmarkPostHandler(b *testing.B) {
	b.Run("signed", func(b *testing.B) { benchmarkPostHandler(b, false) })
	b.Run("any-signature", func(b *testing.B) { benchmarkPostHandler(b, true) })
}

func benchmarkPostHandler(b *testing.B, anySignature bool) {
	srv, rec := startServer(b, func(o *emulator.Options) { o.AnySignature = anySignature })
	conn, id := rawDial(b, srv, rec, "bench")
	_ = conn.SetDeadline(time.Time{})
	drained := make(chan struct{})
	go func() {
		// Read raw bytes into one buffer, so that the client allocates
		// nothing and the figures are the emulator's.
		defer close(drained)
		buf := make([]byte, 64<<10)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}()
	body := &rewindReader{p: benchPayload}
	req := httptest.NewRequest(http.MethodPost, srv.CallbackURL()+"/@connections/"+id, body)
	signRequest(b, req, string(benchPayload))
	w := &discardResponse{h: make(http.Header)}
	emu := srv.Emulator()
	b.ReportAllocs()
	for b.Loop() {
		body.off = 0
		emu.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
	b.StopTimer()
	_ = conn.Close()
	<-drained
}

// BenchmarkTwoWayEcho measures a message through route selection, the
// integration and the route response, as the client sees it.
func BenchmarkTwoWayEcho(b *testing.B) {
	srv, rec := startServer(b, leanMessages)
	c, _ := dial(b, srv, rec, "bench")
	ctx := context.Background()
	msg := []byte(`{"action":"echo","key":"abcdef0123456789"}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// leanMessages answers messages without the recorder, so that benchmarks
// count the emulator's allocations rather than the fake integration's.
func leanMessages(o *emulator.Options) {
	record := o.Invoke
	o.Invoke = func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if ev.RequestContext.EventType == "MESSAGE" {
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.Body}, nil
		}
		return record(ctx, ev)
	}
}

// rewindReader is a request body that a benchmark rewinds between calls.
type rewindReader struct {
	p   []byte
	off int
}

func (r *rewindReader) Read(p []byte) (int, error) {
	if r.off >= len(r.p) {
		return 0, io.EOF
	}
	n := copy(p, r.p[r.off:])
	r.off += n
	return n, nil
}

func (r *rewindReader) Close() error { return nil }

// discardResponse is a reusable http.ResponseWriter.
type discardResponse struct {
	h      http.Header
	status int
}

func (w *discardResponse) Header() http.Header         { return w.h }
func (w *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardResponse) WriteHeader(status int)      { w.status = status }
