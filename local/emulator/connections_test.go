package emulator_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go"
	"github.com/coder/websocket"
	"github.com/gobwas/ws"

	"github.com/mulletgo/mullet/local/emulator"
)

// sdkClient returns the unmodified SDK client pointed at the emulator,
// signing with the emulator's credentials.
func sdkClient(t testing.TB, srv *emulator.Server) *apigatewaymanagementapi.Client {
	t.Helper()
	return sdkClientWith(t, srv, srv.Emulator().Credentials())
}

// sdkClientWith returns the unmodified SDK client pointed at the emulator,
// signing with creds.
func sdkClientWith(t testing.TB, srv *emulator.Server, creds emulator.Credentials) *apigatewaymanagementapi.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")),
	)
	if err != nil {
		t.Fatal(err)
	}
	return apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(srv.CallbackURL())
	})
}

// fakeClock is an Options.Now that tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func TestConnectionsAPIWithSDK(t *testing.T) {
	clock := &fakeClock{now: time.Date(2024, 1, 20, 11, 54, 57, 419e6, time.UTC)}
	srv, rec := startServer(t, func(o *emulator.Options) { o.Now = clock.Now })
	api := sdkClient(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, id := dial(t, srv, rec, "sdk")

	if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(`{"hello":"world"}`)}); err != nil {
		t.Fatalf("PostToConnection: %v", err)
	}
	if got := read(t, c); got != `{"hello":"world"}` {
		t.Fatalf("client read %q", got)
	}

	// lastActiveAt moves with every client frame; connectedAt does not.
	clock.Set(clock.Now().Add(90 * time.Second))
	if got := roundTrip(t, c, `{"action":"echo"}`); got != `echo {"action":"echo"}` {
		t.Fatalf("reply %q", got)
	}
	info, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if got, want := aws.ToTime(info.ConnectedAt), time.Date(2024, 1, 20, 11, 54, 57, 419e6, time.UTC); !got.Equal(want) {
		t.Errorf("connectedAt %v; want %v", got, want)
	}
	if got, want := aws.ToTime(info.LastActiveAt), clock.Now(); !got.Equal(want) {
		t.Errorf("lastActiveAt %v; want %v", got, want)
	}
	if info.Identity == nil || aws.ToString(info.Identity.SourceIp) != "127.0.0.1" || aws.ToString(info.Identity.UserAgent) != "emutest/sdk" {
		t.Errorf("identity %+v", info.Identity)
	}

	if _, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	expectClose(t, c, websocket.StatusNormalClosure)
	rc := rec.disconnectEvent(t, id).RequestContext
	// As API Gateway's execution logs show it (boto/boto3#3789,
	// aws/chalice#2060).
	if rc.DisconnectStatusCode != 1000 || *rc.DisconnectReason != "Connection Closed Normally" {
		t.Errorf("$disconnect after DeleteConnection: %d %q; want 1000 \"Connection Closed Normally\"", rc.DisconnectStatusCode, *rc.DisconnectReason)
	}

	// The connection is gone, and so is one that never existed.
	// Unknown IDs in the URL-safe alphabet real IDs use are gone, not
	// malformed.
	for _, gone := range []string{id, "AAAAAAAAAAAAAAA=", "eHrdFcnvvHcCE-w=", "FYnvDeD_NjMCKlg="} {
		var ge *types.GoneException
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(gone), Data: []byte("x")})
		if !errors.As(err, &ge) {
			t.Errorf("PostToConnection(%s) = %v; want *types.GoneException", gone, err)
		}
		_, err = api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(gone)})
		if !errors.As(err, &ge) {
			t.Errorf("GetConnection(%s) = %v; want *types.GoneException", gone, err)
		}
		_, err = api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(gone)})
		if !errors.As(err, &ge) {
			t.Errorf("DeleteConnection(%s) = %v; want *types.GoneException", gone, err)
		}
	}

	// A malformed ID and an oversized payload, as the SDK reports them.
	_, err = api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("nope"), Data: []byte("x")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "BadRequestException" || ae.ErrorMessage() != "Invalid connectionId: nope" {
		t.Errorf("PostToConnection(nope) = %v; want BadRequestException \"Invalid connectionId: nope\"", err)
	}
	c2, id2 := dial(t, srv, rec, "sdk-big")
	_, err = api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id2), Data: make([]byte, 128*1024+1)})
	var tooLarge *types.PayloadTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Errorf("PostToConnection(128 KiB + 1) = %v; want *types.PayloadTooLargeException", err)
	}
	if got := roundTrip(t, c2, "still open"); got != "$default still open" {
		t.Fatalf("reply %q", got)
	}
}

// rawRequest sends an HTTP request, with a SigV4-shaped Authorization
// header if signed, and returns the response with its body read.
func rawRequest(t testing.TB, method, url, body string, signed bool) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if signed {
		signRequest(t, req, body)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp
}

func rawGet(t testing.TB, url string) (*http.Response, string) {
	t.Helper()
	resp := rawRequest(t, http.MethodGet, url, "", false)
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestConnectionsAPIStatusCodes(t *testing.T) {
	srv, rec := startServer(t, nil)
	c, id := dial(t, srv, rec, "raw")
	url := srv.CallbackURL() + "/@connections/"
	tests := []struct {
		name      string
		method    string
		id        string
		body      string
		signed    bool
		auth      string
		status    int
		errorType string
		respBody  string
	}{
		{name: "unsigned", method: "POST", id: id, body: "x", status: 403, errorType: "ForbiddenException", respBody: `{"message":"Missing Authentication Token"}`},
		{name: "bearer token", method: "POST", id: id, body: "x", auth: "Bearer abc", status: 403, errorType: "ForbiddenException", respBody: `{"message":"Missing Authentication Token"}`},
		{name: "malformed id", method: "POST", id: "abc", body: "x", signed: true, status: 400, errorType: "BadRequestException", respBody: `{"message":"Invalid connectionId: abc"}`},
		{name: "id without padding", method: "GET", id: "AAAAAAAAAAAAAAAA", signed: true, status: 400, errorType: "BadRequestException", respBody: `{"message":"Invalid connectionId: AAAAAAAAAAAAAAAA"}`},
		{name: "unknown id", method: "POST", id: "AAAAAAAAAAAAAAA=", body: "x", signed: true, status: 410, errorType: "GoneException", respBody: ``},
		{name: "129 KiB body", method: "POST", id: id, body: strings.Repeat("x", 129*1024), signed: true, status: 413, errorType: "PayloadTooLargeException"},
		{name: "wrong method", method: "PUT", id: id, body: "x", signed: true, status: 403, errorType: "ForbiddenException", respBody: `{"message":"Missing Authentication Token"}`},
		{name: "post", method: "POST", id: id, body: "pushed", signed: true, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, url+tt.id, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.signed {
				signRequest(t, req, tt.body)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %s; want %d", resp.StatusCode, body, tt.status)
			}
			if got := resp.Header.Get("X-Amzn-ErrorType"); got != tt.errorType {
				t.Errorf("x-amzn-ErrorType %q; want %q", got, tt.errorType)
			}
			if tt.respBody != "" && string(body) != tt.respBody {
				t.Errorf("body %s; want %s", body, tt.respBody)
			}
			if tt.errorType != "" && resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
		})
	}
	// Only the successful POST reached the client, and it is still open.
	if got := read(t, c); got != "pushed" {
		t.Fatalf("client read %q; want only the successful post", got)
	}
	if got := roundTrip(t, c, "alive"); got != "$default alive" {
		t.Fatalf("reply %q", got)
	}
}

// rawDial opens a WebSocket with gobwas/ws, so that a test can write any
// bytes. It returns the connection and the emulator's connection ID.
func rawDial(t testing.TB, srv *emulator.Server, rec *recorder, name string) (net.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"X-Client": {name}})}
	conn, br, _, err := d.Dial(ctx, srv.WebSocketURL())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if br != nil {
		t.Fatal("unexpected data after the handshake")
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(wait))
	return conn, rec.connectEvent(t, name).RequestContext.ConnectionID
}

// readFrame reads one server frame.
func readFrame(t testing.TB, r io.Reader) (ws.Header, []byte) {
	t.Helper()
	h, err := ws.ReadHeader(r)
	if err != nil {
		t.Fatalf("read header: %v", err)
	}
	if h.Masked {
		t.Fatal("server frame is masked")
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(r, p); err != nil {
		t.Fatalf("read payload: %v", err)
	}
	return h, p
}

// readCloseCode reads frames until a close frame and returns its code.
func readCloseCode(t testing.TB, r io.Reader) int {
	t.Helper()
	for {
		h, p := readFrame(t, r)
		if h.OpCode != ws.OpClose {
			continue
		}
		if len(p) < 2 {
			return 1005
		}
		return int(binary.BigEndian.Uint16(p))
	}
}

func TestPostIsFragmentedIntoFrames(t *testing.T) {
	srv, rec := startServer(t, nil)
	conn, id := rawDial(t, srv, rec, "frames")
	msg := strings.Repeat("y", 100*1024)
	if resp := rawRequest(t, http.MethodPost, srv.CallbackURL()+"/@connections/"+id, msg, true); resp.StatusCode != 200 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	br := bufio.NewReader(conn)
	var got []byte
	var sizes []int64
	for i := 0; ; i++ {
		h, p := readFrame(t, br)
		want := ws.OpContinuation
		if i == 0 {
			want = ws.OpText
		}
		if h.OpCode != want {
			t.Fatalf("frame %d has opcode %d; want %d", i, h.OpCode, want)
		}
		sizes = append(sizes, h.Length)
		got = append(got, p...)
		if h.Fin {
			break
		}
	}
	if string(got) != msg {
		t.Fatalf("reassembled %d bytes; want %d", len(got), len(msg))
	}
	for _, n := range sizes {
		if n > 32*1024 {
			t.Fatalf("frame sizes %v; want at most 32 KiB each", sizes)
		}
	}
	if len(sizes) != 4 {
		t.Errorf("frame sizes %v; want 4 frames", sizes)
	}
}
