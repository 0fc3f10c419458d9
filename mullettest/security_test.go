package mullettest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/internal/syncbuf"
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/store/memstore"
)

// TestAuthorizerEndToEnd: behind the emulator, the authorizer allows a
// good token (header or query string), refuses the others with 401/403
// before the handshake completes and stores nothing for them, and its
// context reaches every later handler of the connection.
func TestAuthorizerEndToEnd(t *testing.T) {
	st := newLiveStore(memstore.New(nil))
	log := &authLog{}
	srv := mullettest.NewServer(t, newMatrixApp(log), &mullettest.Options{Store: st})

	byHeader := dialToken(t, srv, matrixToken, "user=ann")
	byQuery := dialToken(t, srv, "", "token="+matrixToken+"&user=bob")
	for c, user := range map[*mullettest.Client]string{byHeader: "ann", byQuery: "bob"} {
		for range 2 { // the context is the same on every later invocation
			if r := get(t, c); r.Auth["user"] != user || r.Auth["level"] != "1" {
				t.Fatalf("%s: authorizer context %v", user, r.Auth)
			}
		}
	}
	st.waitRecords(t, 2)

	for _, tt := range []struct {
		token, query string
		status       int
	}{
		{"", "", http.StatusUnauthorized},
		{"wrong", "", http.StatusForbidden},
		{"", "token=wrong", http.StatusForbidden},
	} {
		_, err := dialTokenErr(srv, tt.token, tt.query)
		var he *mullettest.HandshakeError
		if !errors.As(err, &he) || he.Status != tt.status {
			t.Fatalf("token %q, query %q: %v; want HTTP %d", tt.token, tt.query, err, tt.status)
		}
	}
	for _, tok := range []string{"", "wrong"} {
		for _, id := range log.ids(tok) {
			if _, err := st.GetConnection(context.Background(), id); err == nil {
				t.Errorf("refused connection %s has a record", id)
			}
		}
	}
	st.waitRecords(t, 2)
}

// TestConnectionsCannotReachEachOthersState: two connections update their
// own state concurrently through the emulator while one also sends frames
// that name the other (refused by the request model) and pushes to it (a
// frame, never a state change). Each ends with exactly its own updates.
func TestConnectionsCannotReachEachOthersState(t *testing.T) {
	srv := mullettest.NewServer(t, newMatrixApp(&authLog{}), &mullettest.Options{Store: memstore.New(nil)})
	alice := dialToken(t, srv, matrixToken, "user=alice")
	bob := dialToken(t, srv, matrixToken, "user=bob")
	aliceID, bobID := get(t, alice).ID, get(t, bob).ID
	const n = 100
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type seen struct {
		maxCount, pushes int
		final            *getReply
	}
	var (
		mu      sync.Mutex
		results = map[string]*seen{"alice": {}, "bob": {}}
		readers sync.WaitGroup
		writers sync.WaitGroup
	)
	clients := map[string]*mullettest.Client{"alice": alice, "bob": bob}
	for name, c := range clients {
		readers.Go(func() {
			// Replies, error frames and pushes arrive in any order.
			for {
				_, data, err := c.Conn.Read(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				r := results[name]
				var g getReply
				var s mState
				switch {
				case string(data) == "pushed":
					r.pushes++
				case json.Unmarshal(data, &g) == nil && g.ID != "":
					r.final = &g
				case json.Unmarshal(data, &s) == nil && s.Count > 0:
					r.maxCount = max(r.maxCount, s.Count)
				}
				done := r.final != nil
				mu.Unlock()
				if done {
					return
				}
			}
		})
		writers.Go(func() {
			for i := range n {
				frames := []string{`{"action":"incr"}`}
				if name == "alice" && i%2 == 0 {
					frames = append(frames,
						`{"action":"incr","connectionId":"`+bobID+`"}`, // refused by the model
						`{"action":"push","to":"`+bobID+`","text":"pushed"}`)
				}
				for _, f := range frames {
					if err := c.Conn.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
						t.Errorf("%s: %v", name, err)
						return
					}
				}
			}
		})
	}
	writers.Wait()
	// Once both have seen their n-th update, ask for the state.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		done := results["alice"].maxCount >= n && results["bob"].maxCount >= n && results["bob"].pushes >= n/2
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range clients {
		if err := c.Conn.Write(ctx, websocket.MessageText, []byte(`{"action":"get"}`)); err != nil {
			t.Fatal(err)
		}
	}
	readers.Wait()
	for name, id := range map[string]string{"alice": aliceID, "bob": bobID} {
		r := results[name]
		if r.final == nil || r.final.ID != id || r.final.State.Count != n || r.maxCount != n {
			t.Errorf("%s: final state %+v, highest count seen %d; want exactly its own %d updates", name, r.final, r.maxCount, n)
		}
	}
	if p := results["bob"].pushes; p != n/2 {
		t.Errorf("bob got %d pushes, want %d", p, n/2)
	}
}

// secrets are the credentials the log test puts on the wire.
var secrets = []string{
	matrixToken,                  // bearer token and ?token=
	"wrong-but-s3cret-token",     // a refused token
	"AKIAMULLETTESTKEYID",        // access key ID of an SDK client
	"mullet/Secret+Access/Key42", // its secret key
	"MulletSessionTokenSecret",   // its session token
	"deadbeefSIGNATURE",          // a hand-made signature
}

// TestNoCredentialsInLogs runs traffic that carries credentials: $connect
// with an Authorization header and a token in the query string (allowed
// and refused), @connections calls signed with SigV4 by the framework and
// by an SDK client with its own keys, a hand-made SigV4 header, and
// failing handlers; with every log at debug level. No secret, no
// Authorization scheme and no SigV4 field may appear in any log line.
func TestNoCredentialsInLogs(t *testing.T) {
	var logBuf, invBuf syncbuf.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- local.Serve(ctx, newMatrixApp(&authLog{}), &local.Options{
			Addr: "127.0.0.1:0", Out: io.Discard, Logger: logger, Store: memstore.New(nil),
			InvocationLog: &invBuf, InvocationLogFormat: "json",
			Ready: func(ws, cb string) { ready <- [2]string{ws, cb} },
		})
	}()
	var srv mullettest.Server
	select {
	case u := <-ready:
		srv.URL, srv.CallbackURL = u[0], u[1]
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}

	a := dialToken(t, &srv, matrixToken, "user=ann")
	b := dialToken(t, &srv, "", "token="+matrixToken+"&user=bob&password="+matrixToken)
	bID := get(t, b).ID
	for _, tok := range []string{"wrong-but-s3cret-token", ""} {
		if _, err := dialTokenErr(&srv, tok, "token="+tok); err == nil {
			t.Fatalf("token %q was accepted", tok)
		}
	}
	for _, f := range []string{
		`{"action":"nick","nick":"ann"}`, `{"action":"incr"}`, `{"action":"fail"}`, `{"action":"refuse"}`,
		`{"action":"nick","nick":""}`, `not json`,
		`{"action":"push","to":"` + bID + `","text":"hi"}`, // the framework's signed PostToConnection
		`{"action":"push","to":"` + unknownID + `","text":"hi"}`,
		`{"action":"push","to":"bad id","text":"hi"}`,
	} {
		a.Send(t, f)
	}
	// An SDK client with its own credentials, as another Lambda would use.
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(secrets[2], secrets[3], secrets[4])}
	api := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) { o.BaseEndpoint = aws.String(srv.CallbackURL) })
	for _, id := range []string{bID, unknownID, "malformed"} {
		_, _ = api.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
		_, _ = api.GetConnection(context.Background(), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	}
	req, _ := http.NewRequest(http.MethodPost, srv.CallbackURL+"/@connections/"+bID, strings.NewReader("x"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+secrets[2]+"/20240101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature="+secrets[5])
	doHTTP(t, req)
	req, _ = http.NewRequest(http.MethodPost, srv.CallbackURL+"/@connections/"+bID, strings.NewReader("x"))
	req.Header.Set("Authorization", "Bearer "+matrixToken)
	doHTTP(t, req)
	getLast(t, a) // every frame above was handled before this reply
	_, _ = api.DeleteConnection(context.Background(), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(bID)})
	_ = a.Conn.Close(websocket.StatusNormalClosure, "")
	_ = b.Conn.CloseNow()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}

	logs := logBuf.String() + invBuf.String()
	// The logs were on: the traffic above shows in them.
	for _, want := range []string{`"level":"DEBUG"`, "handler failed", "frame rejected", "connection refused by the authorizer", `"route":"$connect"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q: the test did not capture what it meant to\n%s", want, logs)
		}
	}
	for _, bad := range append(secrets, "AWS4-HMAC-SHA256", "Credential=", "Signature=", "Bearer", "Authorization", "X-Amz-Security-Token") {
		if i := strings.Index(strings.ToLower(logs), strings.ToLower(bad)); i >= 0 {
			line := logs[strings.LastIndexByte(logs[:i], '\n')+1:]
			if j := strings.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			t.Errorf("logs contain %q: %s", bad, line)
		}
	}
	t.Logf("%d bytes of logs searched", len(logs))
}

// TestLoopbackByDefault: the emulator's default address is loopback, and
// binding anything else is allowed but warned about, by emulator.Listen and
// by local.Serve. (The listeners bound to 0.0.0.0 here are closed at
// once; emulator.Listen's is never served.)
func TestLoopbackByDefault(t *testing.T) {
	if emulator.DefaultAddr != "127.0.0.1:8080" {
		t.Fatalf("emulator.DefaultAddr = %q, want loopback", emulator.DefaultAddr)
	}
	manifest := newMatrixApp(&authLog{}).Manifest()
	listen := func(addr string) string {
		var buf syncbuf.Buffer
		srv, err := emulator.Listen(addr, &emulator.Options{
			Manifest: manifest,
			Invoke:   nopInvoke,
			Logger:   slog.New(slog.NewTextHandler(&buf, nil)),
		})
		if err != nil {
			t.Fatalf("Listen(%q): %v", addr, err)
		}
		if u := srv.WebSocketURL(); !strings.HasPrefix(u, "ws://127.0.0.1:") && !strings.HasPrefix(u, "ws://[::1]:") {
			t.Errorf("Listen(%q): clients are told to dial %s, want loopback", addr, srv.WebSocketURL())
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	if logs := listen("127.0.0.1:0"); strings.Contains(logs, "non-loopback") {
		t.Errorf("loopback bind warned: %s", logs)
	}
	if logs := listen("0.0.0.0:0"); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "non-loopback address") {
		t.Errorf("Listen(0.0.0.0:0) did not warn: %q", logs)
	}

	serve := func(addr string) string {
		var buf syncbuf.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- local.Serve(ctx, newMatrixApp(&authLog{}), &local.Options{
				Addr: addr, Out: io.Discard, Logger: slog.New(slog.NewTextHandler(&buf, nil)),
				Ready: func(string, string) { cancel() }, // stop at once
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("local.Serve(%q): %v", addr, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("local.Serve did not stop")
		}
		cancel()
		return buf.String()
	}
	if logs := serve("127.0.0.1:0"); strings.Contains(logs, "non-loopback") {
		t.Errorf("loopback bind warned: %s", logs)
	}
	if logs := serve("0.0.0.0:0"); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "non-loopback address") {
		t.Errorf("local.Serve(0.0.0.0:0) did not warn: %q", logs)
	}
}

var nopInvoke emulator.InvokeFunc = func(context.Context, *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

// getLast sends "get" and reads frames until its reply, skipping the
// answers to frames sent before it.
func getLast(t *testing.T, c *mullettest.Client) getReply {
	t.Helper()
	c.Send(t, `{"action":"get"}`)
	for {
		var r getReply
		if json.Unmarshal([]byte(c.Read(t)), &r) == nil && r.ID != "" {
			return r
		}
	}
}
