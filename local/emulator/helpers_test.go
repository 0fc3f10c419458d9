package emulator_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/manifest"
)

// wait bounds every wait in these tests.
const wait = 5 * time.Second

const strictSchema = `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object",` +
	`"properties":{"action":{"type":"string"},"name":{"type":"string","minLength":1}},` +
	`"required":["action","name"],"additionalProperties":false}`

// testManifest declares the routes the tests use:
//   - echo, $default: two-way, reply "<route> <body>"
//   - oneway: one-way
//   - fail, failoneway: the integration returns an error (an invocation
//     error); fail502: it returns statusCode 502 with a body
//   - strict: two-way with a request model
func testManifest() *manifest.Manifest {
	return &manifest.Manifest{
		Version:                  manifest.Version,
		Name:                     "emutest",
		RouteSelectionExpression: "$request.body.action",
		Routes: []manifest.Route{
			{Key: manifest.RouteConnect},
			{Key: manifest.RouteDisconnect},
			{Key: manifest.RouteDefault, TwoWay: true},
			{Key: "echo", TwoWay: true},
			{Key: "oneway"},
			{Key: "fail", TwoWay: true},
			{Key: "fail502", TwoWay: true},
			{Key: "failoneway"},
			{Key: "strict", TwoWay: true, Model: "StrictModel", Schema: json.RawMessage(strictSchema)},
		},
	}
}

// recorder is a fake integration that records every event.
type recorder struct {
	mu       sync.Mutex
	events   []*events.APIGatewayWebsocketProxyRequest
	accepted map[string]bool // connection IDs whose $connect returned 2xx
	changed  chan struct{}   // closed and replaced on every event

	// handle, when set, answers instead of the default behaviour. It may
	// return handled=false to fall back to the default.
	handle func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (resp events.APIGatewayProxyResponse, handled bool, err error)
}

func newRecorder() *recorder {
	return &recorder{accepted: make(map[string]bool), changed: make(chan struct{})}
}

func (r *recorder) invoke(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	resp, err := r.answer(ctx, ev)
	r.mu.Lock()
	r.events = append(r.events, ev)
	if ev.RequestContext.EventType == "CONNECT" && err == nil && (resp.StatusCode == 0 || resp.StatusCode/100 == 2) {
		r.accepted[ev.RequestContext.ConnectionID] = true
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) answer(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	if r.handle != nil {
		resp, handled, err := r.handle(ctx, ev)
		if handled {
			return resp, err
		}
	}
	switch ev.RequestContext.RouteKey {
	case "fail", "failoneway":
		return events.APIGatewayProxyResponse{}, errors.New("handler failed")
	case "fail502":
		return events.APIGatewayProxyResponse{StatusCode: 502, Body: "bad gateway body"}, nil
	case "$connect", "$disconnect":
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.RequestContext.RouteKey + " " + ev.Body}, nil
}

// waitEvent returns the first event that satisfies match, waiting for it.
func (r *recorder) waitEvent(t testing.TB, what string, match func(*events.APIGatewayWebsocketProxyRequest) bool) *events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	deadline := time.After(wait)
	for {
		r.mu.Lock()
		for _, ev := range r.events {
			if match(ev) {
				r.mu.Unlock()
				return ev
			}
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
			return nil
		}
	}
}

// count returns how many events satisfy match.
func (r *recorder) count(match func(*events.APIGatewayWebsocketProxyRequest) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if match(ev) {
			n++
		}
	}
	return n
}

// connectEvent waits for the $connect of the client dialled with the
// X-Client header value name.
func (r *recorder) connectEvent(t testing.TB, name string) *events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	return r.waitEvent(t, "$connect of "+name, func(ev *events.APIGatewayWebsocketProxyRequest) bool {
		return ev.RequestContext.EventType == "CONNECT" && ev.Headers["X-Client"] == name
	})
}

// disconnectEvent waits for the $disconnect of connection id.
func (r *recorder) disconnectEvent(t testing.TB, id string) *events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	return r.waitEvent(t, "$disconnect of "+id, func(ev *events.APIGatewayWebsocketProxyRequest) bool {
		return ev.RequestContext.EventType == "DISCONNECT" && ev.RequestContext.ConnectionID == id
	})
}

// routed returns the MESSAGE events for connection id, in arrival order.
func (r *recorder) routed(id string) []*events.APIGatewayWebsocketProxyRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*events.APIGatewayWebsocketProxyRequest
	for _, ev := range r.events {
		if ev.RequestContext.EventType == "MESSAGE" && ev.RequestContext.ConnectionID == id {
			out = append(out, ev)
		}
	}
	return out
}

// waitRouted waits until connection id has had n messages routed.
func (r *recorder) waitRouted(t testing.TB, id string, n int) {
	t.Helper()
	deadline := time.After(wait)
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if len(r.routed(id)) >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %d messages of %s", n, id)
		}
	}
}

// checkDisconnects verifies that every accepted connection got exactly one
// $disconnect, and no other connection got one.
func (r *recorder) checkDisconnects(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := make(map[string]int)
	for _, ev := range r.events {
		if ev.RequestContext.EventType == "DISCONNECT" {
			n[ev.RequestContext.ConnectionID]++
		}
	}
	for id := range r.accepted {
		if n[id] != 1 {
			t.Errorf("connection %s got %d $disconnect events; want exactly 1", id, n[id])
		}
	}
	for id, k := range n {
		if !r.accepted[id] {
			t.Errorf("connection %s was never accepted but got %d $disconnect events", id, k)
		}
	}
}

// startServer starts an emulator on 127.0.0.1 with testManifest and a
// recorder as the integration. mod may adjust the options. Cleanup stops the
// server and checks that every connection got exactly one $disconnect.
func startServer(t testing.TB, mod func(*emulator.Options)) (*emulator.Server, *recorder) {
	t.Helper()
	rec := newRecorder()
	opts := &emulator.Options{Manifest: testManifest(), Invoke: rec.invoke, Stage: "test", APIID: "abcdefghij"}
	if mod != nil {
		mod(opts)
	}
	srv, err := emulator.Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(2 * wait):
			t.Errorf("Serve did not return after its context was canceled")
		}
		rec.checkDisconnects(t)
	})
	return srv, rec
}

// dial connects a client that identifies itself with the X-Client header
// and returns it with its connection ID.
func dial(t testing.TB, srv *emulator.Server, rec *recorder, name string) (*websocket.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.WebSocketURL(), &websocket.DialOptions{
		HTTPHeader: http.Header{"X-Client": {name}, "User-Agent": {"emutest/" + name}},
	})
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c, rec.connectEvent(t, name).RequestContext.ConnectionID
}

func send(t testing.TB, c *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func read(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	typ, p, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("read a %v message; want text", typ)
	}
	return string(p)
}

// roundTrip sends msg and returns the next message received.
func roundTrip(t testing.TB, c *websocket.Conn, msg string) string {
	t.Helper()
	send(t, c, msg)
	return read(t, c)
}

// expectClose reads until the connection closes and checks the close
// code the emulator sent.
func expectClose(t testing.TB, c *websocket.Conn, code websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		if got := websocket.CloseStatus(err); got != code {
			t.Fatalf("connection ended with %v (close status %d); want close %d", err, got, code)
		}
		return
	}
}

// errorFrame is the frame API Gateway sends for an error.
func errorFrame(message, connectionID, requestID string) string {
	return fmt.Sprintf(`{"message": "%s", "connectionId":"%s", "requestId":"%s"}`, message, connectionID, requestID)
}

// parseErrorFrame checks that frame is an error frame with message for
// connection id and returns its request ID.
func parseErrorFrame(t testing.TB, frame, message, connectionID string) string {
	t.Helper()
	var v struct {
		Message      string `json:"message"`
		ConnectionID string `json:"connectionId"`
		RequestID    string `json:"requestId"`
	}
	if err := json.Unmarshal([]byte(frame), &v); err != nil {
		t.Fatalf("error frame %q is not JSON: %v", frame, err)
	}
	if want := errorFrame(message, connectionID, v.RequestID); frame != want {
		t.Fatalf("error frame\n got %s\nwant %s", frame, want)
	}
	checkID(t, "requestId", v.RequestID)
	return v.RequestID
}

// checkID checks the shape of an AWS ID: 16 characters of URL-safe
// base64 (11 bytes) ending in one '='.
func checkID(t testing.TB, what, id string) {
	t.Helper()
	b, err := base64.URLEncoding.Strict().DecodeString(id)
	if len(id) != 16 || err != nil || len(b) != 11 {
		t.Fatalf("%s %q does not have AWS's shape (16 URL-safe base64 characters, 11 bytes, ending in one '=')", what, id)
	}
}

// signRequest signs req with body as the SDK does (SigV4, execute-api),
// with the emulator's default credentials.
func signRequest(t testing.TB, req *http.Request, body string) {
	t.Helper()
	signRequestWith(t, req, body, emulator.DefaultCredentials())
}

func signRequestWith(t testing.TB, req *http.Request, body string, c emulator.Credentials) {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
}
