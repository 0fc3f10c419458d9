package mullettest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"
	"github.com/gobwas/ws"

	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// matrixEnv is one app behind the emulator, shared by every case of the
// matrix, with a bystander connection whose state must survive them all.
type matrixEnv struct {
	srv       *mullettest.Server
	st        *liveStore
	auth      *authLog
	bystander *mullettest.Client
	byID      string
	byState   store.State

	closers []func() // connections a case opened, closed after it
}

// attacker connects a well-behaved client for a case and returns it with
// its connection ID. The matrix closes it after the case.
func (env *matrixEnv) attacker(t *testing.T) (*mullettest.Client, string) {
	t.Helper()
	c := dialToken(t, env.srv, matrixToken, "user=mallory")
	env.closers = append(env.closers, func() { _ = c.Conn.Close(websocket.StatusNormalClosure, "") })
	return c, get(t, c).ID
}

// raw connects a raw-frame client for a case.
func (env *matrixEnv) raw(t *testing.T) *rawConn {
	t.Helper()
	rc := dialRaw(t, env.srv)
	env.closers = append(env.closers, func() { _ = rc.Close() })
	return rc
}

func (env *matrixEnv) httpBase() string { return "http" + strings.TrimPrefix(env.srv.URL, "ws") }

// fakeSigV4 is an Authorization header of SigV4's shape with a signature
// that cannot match.
const fakeSigV4 = "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123456789abcdef"

// Markers for connections' auth: sign the request as the SDK does, with the
// emulator's credentials or with a wrong secret.
const (
	signed        = "sign with the emulator's credentials"
	wronglySigned = "sign with a wrong secret"
)

// connections sends one @connections request and returns its status, error
// type and body.
func (env *matrixEnv) connections(t *testing.T, method, path, auth string, body io.Reader, size int64) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, env.srv.CallbackURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	switch auth {
	case "":
	case signed, wronglySigned:
		creds := aws.Credentials{AccessKeyID: emulator.DefaultAccessKeyID, SecretAccessKey: emulator.DefaultSecretAccessKey}
		if auth == wronglySigned {
			creds.SecretAccessKey = "wrong"
		}
		payloadHash := "UNSIGNED-PAYLOAD" // a chunked body is refused before its signature is checked
		if body == nil {
			payloadHash = hex.EncodeToString(sha256.New().Sum(nil))
		} else if size >= 0 {
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			payloadHash = hex.EncodeToString(sum[:])
			req.Body = io.NopCloser(bytes.NewReader(b))
		}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, "execute-api", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	default:
		req.Header.Set("Authorization", auth)
	}
	return doHTTP(t, req)
}

func doHTTP(t *testing.T, req *http.Request) (int, string, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), string(b)
}

// badInput is one row of the matrix: what is sent, at which layer, and what
// the sender gets. run sends it and checks the answer; the matrix then
// checks that the bystander and the store are untouched.
type badInput struct {
	layer string // "frame", "@connections" or "$connect"
	input string // what is sent
	gets  string // what the client or caller gets
	run   func(t *testing.T, env *matrixEnv)
}

// messageCase: a text message that is answered with an error frame, after
// which the sender's connection keeps working.
func messageCase(input, body, message string) badInput {
	return badInput{layer: "frame", input: input, gets: "error frame `" + message + "`, connection stays open", run: func(t *testing.T, env *matrixEnv) {
		c, id := env.attacker(t)
		c.Send(t, body)
		expectErrorFrame(t, c, id, message)
		if r := get(t, c); r.ID != id {
			t.Fatalf("the connection no longer works: %+v", r)
		}
	}}
}

// closeCase: raw bytes after which the emulator closes the connection
// with code, fires $disconnect, and the framework removes the record.
func closeCase(input string, code int, data func() []byte) badInput {
	return badInput{layer: "frame", input: input, gets: "close " + strconv.Itoa(code) + ", `$disconnect`, record removed", run: func(t *testing.T, env *matrixEnv) {
		rc := env.raw(t)
		rc.write(t, data())
		if got := rc.closeCode(t); got != code {
			t.Fatalf("close code %d, want %d", got, code)
		}
		waitGone(t, env, rc.id)
	}}
}

// waitGone waits until connection id's record is removed.
func waitGone(t *testing.T, env *matrixEnv, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := env.st.GetConnection(context.Background(), id)
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("record of %s still there after it closed: %v", id, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connectCase: a handshake with a token and query string that the
// authorizer or $connect refuses with status and body; nothing is stored
// for the connection the authorizer saw.
func connectCase(input, token, query string, status int, body string) badInput {
	return badInput{layer: "$connect", input: input, gets: "HTTP " + strconv.Itoa(status) + " `" + body + "`, no record stored", run: func(t *testing.T, env *matrixEnv) {
		authToken := token
		if authToken == "" {
			authToken = queryValue(query, "token")
		}
		before := len(env.auth.ids(authToken))
		_, err := dialTokenErr(env.srv, token, query)
		var he *mullettest.HandshakeError
		if !errors.As(err, &he) || he.Status != status || !strings.Contains(err.Error(), body) {
			t.Fatalf("dial: %v; want HTTP %d with %q", err, status, body)
		}
		ids := env.auth.ids(authToken)
		if len(ids) != before+1 {
			t.Fatalf("authorizer saw %d connections, want 1", len(ids)-before)
		}
		if _, err := env.st.GetConnection(context.Background(), ids[len(ids)-1]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("refused connection has a record: %v", err)
		}
	}}
}

func queryValue(query, key string) string {
	for kv := range strings.SplitSeq(query, "&") {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// handshakeCase: a malformed upgrade request, refused before $connect.
func handshakeCase(input string, status int, body string, mod func(r *http.Request)) badInput {
	return badInput{layer: "$connect", input: input, gets: "HTTP " + strconv.Itoa(status) + " `" + body + "`, `$connect` not invoked", run: func(t *testing.T, env *matrixEnv) {
		before := len(env.auth.ids(matrixToken))
		req, _ := http.NewRequest(http.MethodGet, env.httpBase()+"?token="+matrixToken, nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		mod(req)
		got, _, gotBody := doHTTP(t, req)
		if got != status || !strings.Contains(gotBody, body) {
			t.Fatalf("%d %q, want %d %q", got, gotBody, status, body)
		}
		if n := len(env.auth.ids(matrixToken)); n != before {
			t.Fatalf("$connect ran for a malformed handshake")
		}
	}}
}

// connectionsCase: one @connections request and the exact answer.
func connectionsCase(input string, status int, errType, body string, req func(env *matrixEnv) (method, path, auth string, r io.Reader, size int64)) badInput {
	gets := "HTTP " + strconv.Itoa(status)
	if errType != "" {
		gets += " " + errType
	}
	if body != "" {
		gets += " `" + body + "`"
	}
	return badInput{layer: "@connections", input: input, gets: gets, run: func(t *testing.T, env *matrixEnv) {
		method, path, auth, r, size := req(env)
		got, gotType, gotBody := env.connections(t, method, path, auth, r, size)
		if got != status || gotType != errType || body != "" && gotBody != body {
			t.Fatalf("%s %s: %d %q %q, want %d %q %q", method, path, got, gotType, gotBody, status, errType, body)
		}
	}}
}

// unknownID is well formed but names no connection.
const unknownID = "AAAAAAAAAAAAAAA="

func badInputs() []badInput {
	big := func(n int) []byte { return bytes.Repeat([]byte("a"), n) }
	deep := func(depth int) string {
		return `{"action":"echo","text":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
	}
	return []badInput{
		// Text messages: route selection (API Gateway's "Forbidden" frame:
		// no route matches and the app has no $default route).
		messageCase("text that is not JSON (`hello`)", "hello", "Forbidden"),
		messageCase("empty text message", "", "Forbidden"),
		messageCase("JSON that is not an object (`[1,2]`)", "[1,2]", "Forbidden"),
		messageCase("object without `action`", `{"nick":"x"}`, "Forbidden"),
		messageCase("unknown action", `{"action":"sudo"}`, "Forbidden"),
		messageCase("action naming a reserved route (`$connect`)", `{"action":"$connect"}`, "Forbidden"),
		messageCase("action that is a number", `{"action":5}`, "Forbidden"),
		messageCase("action that is null", `{"action":null}`, "Forbidden"),
		messageCase("truncated JSON", `{"action":"nick","nick":"a"`, "Forbidden"),
		// Request models (API Gateway's "Invalid request body" frame; the
		// handler never runs).
		messageCase("missing required field", `{"action":"nick"}`, "Invalid request body"),
		messageCase("field of the wrong type", `{"action":"nick","nick":5}`, "Invalid request body"),
		messageCase("field the type does not declare", `{"action":"nick","nick":"a","admin":true}`, "Invalid request body"),
		messageCase("string over maxLength", `{"action":"nick","nick":"`+strings.Repeat("x", 100)+`"}`, "Invalid request body"),
		messageCase("string failing its pattern", `{"action":"nick","nick":" leading space"}`, "Invalid request body"),
		messageCase("number over maximum", `{"action":"echo","text":"x","n":11}`, "Invalid request body"),
		messageCase("number too large for float64 (`1e999`)", `{"action":"echo","text":"x","n":1e999}`, "Invalid request body"),
		messageCase("JSON nested 5,000 levels deep", deep(5000), "Invalid request body"),
		// encoding/json refuses nesting beyond 10,000 levels, so route
		// selection sees no JSON object.
		messageCase("JSON nested 16,000 levels deep", deep(16000), "Forbidden"),
		// Handlers.
		messageCase("handler returns an error", `{"action":"fail"}`, "Internal server error"),
		messageCase("handler refuses (`*framework.Error` 409)", `{"action":"refuse"}`, "not now"),
		messageCase("push to a connection ID that does not exist", `{"action":"push","to":"`+unknownID+`","text":"x"}`, "no such connection: "+unknownID),
		messageCase("push to a malformed connection ID (`../x`)", `{"action":"push","to":"../x","text":"x"}`, `cannot push to "../x"`),
		{layer: "frame", input: "burst of 200 invalid messages", gets: "an `Invalid request body` frame for each, connection stays open", run: func(t *testing.T, env *matrixEnv) {
			c, id := env.attacker(t)
			for range 200 {
				c.Send(t, `{"action":"nick","nick":""}`)
			}
			for range 200 {
				expectErrorFrame(t, c, id, "Invalid request body")
			}
			get(t, c)
		}},
		// Frames the emulator refuses by closing the connection.
		closeCase("text message that is not UTF-8", 1007, func() []byte { return frame(true, 0, ws.OpText, true, []byte{0xff, 0xfe}) }),
		closeCase("binary frame", 1003, func() []byte { return frame(true, 0, ws.OpBinary, true, []byte(`{"action":"get"}`)) }),
		closeCase("frame over 32 KiB", 1009, func() []byte { return frame(true, 0, ws.OpText, true, big(32<<10+1)) }),
		closeCase("message over 128 KiB in 32 KiB frames", 1009, func() []byte {
			var b []byte
			b = append(b, frame(false, 0, ws.OpText, true, big(32<<10))...)
			for range 3 {
				b = append(b, frame(false, 0, ws.OpContinuation, true, big(32<<10))...)
			}
			return append(b, frame(true, 0, ws.OpContinuation, true, big(1))...)
		}),
		closeCase("unmasked frame", 1002, func() []byte { return frame(true, 0, ws.OpText, false, []byte("hi")) }),
		closeCase("reserved bit set", 1002, func() []byte { return frame(true, 4, ws.OpText, true, []byte("hi")) }),
		closeCase("reserved opcode 0x3", 1002, func() []byte { return frame(true, 0, ws.OpCode(3), true, nil) }),
		closeCase("continuation frame with no message started", 1002, func() []byte { return frame(true, 0, ws.OpContinuation, true, []byte("x")) }),
		closeCase("new message inside a fragmented one", 1002, func() []byte {
			return append(frame(false, 0, ws.OpText, true, []byte("a")), frame(true, 0, ws.OpText, true, []byte("b"))...)
		}),
		closeCase("fragmented ping", 1002, func() []byte { return frame(false, 0, ws.OpPing, true, []byte("p")) }),
		closeCase("ping with a 126-byte payload", 1002, func() []byte { return frame(true, 0, ws.OpPing, true, big(126)) }),
		closeCase("close frame with a 1-byte payload", 1002, func() []byte { return frame(true, 0, ws.OpClose, true, []byte{3}) }),
		closeCase("close frame with reserved code 1005", 1002, func() []byte { return frame(true, 0, ws.OpClose, true, []byte{0x03, 0xed}) }),
		closeCase("64-bit frame length with its top bit set", 1002, func() []byte {
			return []byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		}),
		{layer: "frame", input: "64 KiB of random bytes", gets: "closed (1002, 1003, 1007 or 1009, or dropped), `$disconnect`, record removed", run: func(t *testing.T, env *matrixEnv) {
			rc := env.raw(t)
			junk := make([]byte, 64<<10)
			rand.Read(junk)
			junk[0] = 0x81 | byte(junk[0]&0x0f) // keep it from being a plausible small text frame
			_ = rc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = rc.Write(junk) // the emulator may close before reading it all
			switch code := rc.closeCode(t); code {
			case 0, 1002, 1003, 1007, 1009:
			default:
				t.Fatalf("close code %d", code)
			}
			_ = rc.Close()
			waitGone(t, env, rc.id)
		}},
		{layer: "frame", input: "frame header cut short, then the TCP connection drops", gets: "`$disconnect` (1006), record removed", run: func(t *testing.T, env *matrixEnv) {
			rc := env.raw(t)
			rc.write(t, []byte{0x81, 0xfe, 0x01}) // 16-bit length, one byte of it
			_ = rc.Close()
			waitGone(t, env, rc.id)
		}},

		// The @connections API.
		connectionsCase("POST without Authorization", 403, "ForbiddenException", `{"message":"Missing Authentication Token"}`, func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPost, "/@connections/" + env.byID, "", strings.NewReader("x"), 1
		}),
		connectionsCase("POST with a non-SigV4 Authorization (`Bearer …`)", 403, "ForbiddenException", `{"message":"Missing Authentication Token"}`, func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPost, "/@connections/" + env.byID, "Bearer " + matrixToken, strings.NewReader("x"), 1
		}),
		connectionsCase("POST with `AWS4-HMAC-SHA256` but no Credential or Signature", 403, "ForbiddenException", `{"message":"Missing Authentication Token"}`, func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPost, "/@connections/" + env.byID, "AWS4-HMAC-SHA256 ", strings.NewReader("x"), 1
		}),
		connectionsCase("POST with a SigV4 signature that does not match", 403, "InvalidSignatureException", "", func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPost, "/@connections/" + env.byID, fakeSigV4, strings.NewReader("x"), 1
		}),
		connectionsCase("POST signed with a wrong secret", 403, "InvalidSignatureException", "", func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPost, "/@connections/" + env.byID, wronglySigned, strings.NewReader("x"), 1
		}),
		connectionsCase("POST to a malformed ID", 400, "BadRequestException", `{"message":"Invalid connectionId: not-an-id"}`, func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPost, "/@connections/not-an-id", signed, strings.NewReader("x"), 1
		}),
		connectionsCase("POST to a well-formed ID that does not exist", 410, "GoneException", ``, func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPost, "/@connections/" + unknownID, signed, strings.NewReader("x"), 1
		}),
		connectionsCase("POST of 128 KiB + 1 byte", 413, "PayloadTooLargeException", `{"message":"Request entity too large"}`, func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPost, "/@connections/" + env.byID, signed, bytes.NewReader(big(128<<10 + 1)), 128<<10 + 1
		}),
		connectionsCase("chunked POST over 128 KiB (no Content-Length)", 413, "PayloadTooLargeException", `{"message":"Request entity too large"}`, func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPost, "/@connections/" + env.byID, signed, io.MultiReader(bytes.NewReader(big(100<<10)), bytes.NewReader(big(100<<10))), -1
		}),
		connectionsCase("PUT", 403, "ForbiddenException", `{"message":"Missing Authentication Token"}`, func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPut, "/@connections/" + env.byID, signed, strings.NewReader("x"), 1
		}),
		connectionsCase("PATCH on the bystander's ID", 403, "ForbiddenException", `{"message":"Missing Authentication Token"}`, func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPatch, "/@connections/" + env.byID, signed, strings.NewReader(`{"count":0}`), 11
		}),
		connectionsCase("path with a segment after the ID", 403, "ForbiddenException", `{"message":"Forbidden"}`, func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPost, "/@connections/" + env.byID + "/extra", signed, strings.NewReader("x"), 1
		}),
		connectionsCase("empty ID", 403, "ForbiddenException", `{"message":"Forbidden"}`, func(env *matrixEnv) (string, string, string, io.Reader, int64) {
			return http.MethodPost, "/@connections/", signed, strings.NewReader("x"), 1
		}),
		{layer: "@connections", input: "POST to another stage's path", gets: "HTTP 403 ForbiddenException `{\"message\":\"Forbidden\"}`, as API Gateway answers", run: func(t *testing.T, env *matrixEnv) {
			req, _ := http.NewRequest(http.MethodPost, strings.TrimSuffix(env.srv.CallbackURL, "/local")+"/prod/@connections/"+env.byID, strings.NewReader("x"))
			req.Header.Set("Authorization", fakeSigV4)
			if status, _, body := doHTTP(t, req); status != 403 || !strings.Contains(body, `{"message":"Forbidden"}`) {
				t.Fatalf("%d %q", status, body)
			}
		}},
		{layer: "@connections", input: "POST to a connection that has closed", gets: "HTTP 410 GoneException, empty body", run: func(t *testing.T, env *matrixEnv) {
			c, id := env.attacker(t)
			_ = c.Conn.Close(websocket.StatusNormalClosure, "")
			waitGone(t, env, id)
			if status, typ, _ := env.connections(t, http.MethodPost, "/@connections/"+id, signed, strings.NewReader("x"), 1); status != 410 || typ != "GoneException" {
				t.Fatalf("%d %s, want 410 GoneException", status, typ)
			}
		}},
		{layer: "@connections", input: "DELETE twice", gets: "204, then HTTP 410 GoneException", run: func(t *testing.T, env *matrixEnv) {
			_, id := env.attacker(t)
			if status, _, _ := env.connections(t, http.MethodDelete, "/@connections/"+id, signed, nil, 0); status != 204 {
				t.Fatalf("first DELETE: %d", status)
			}
			status, typ, _ := env.connections(t, http.MethodDelete, "/@connections/"+id, signed, nil, 0)
			if status != 410 || typ != "GoneException" {
				t.Fatalf("second DELETE: %d %s, want 410 GoneException", status, typ)
			}
			waitGone(t, env, id)
		}},

		// $connect.
		connectCase("no token", "", "", 401, "missing token"),
		connectCase("wrong token in the Authorization header", "wrong", "", 403, "bad token"),
		connectCase("wrong token in the query string", "", "token=wrong", 403, "bad token"),
		connectCase("authorizer panics", "explode", "", 500, "Internal server error"),
		connectCase("authorizer returns a context value that is not a scalar", "nested", "", 500, "Internal server error"),
		connectCase("`$connect` handler refuses (`?room=full`)", matrixToken, "room=full", 409, "room is full"),
		handshakeCase("plain GET of the WebSocket endpoint (no upgrade)", 426, `{"message":"Upgrade Required"}`, func(r *http.Request) {
			r.Header.Del("Upgrade")
			r.Header.Del("Connection")
		}),
		handshakeCase("malformed Sec-WebSocket-Key", 400, `{"message":"Bad Request"}`, func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "short") }),
		handshakeCase("Sec-WebSocket-Version 8", 426, `{"message":"Upgrade Required"}`, func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }),
		handshakeCase("upgrade with POST", 426, `{"message":"Upgrade Required"}`, func(r *http.Request) { r.Method = http.MethodPost }),
		handshakeCase("2 MB of request headers", 431, "Request Header Fields Too Large", func(r *http.Request) {
			r.Header.Set("X-Big", strings.Repeat("b", 2<<20))
		}),
		handshakeCase("upgrade on a path outside the stage", 403, `{"message":"Forbidden"}`, func(r *http.Request) { r.URL.Path = "/other" }),
	}
}

// TestBadInputMatrix sends every bad input of badInputs to one app behind
// the emulator. Each gets its specific answer; after each, a bystander
// connection still round-trips, its state and authorizer context are
// intact, and the store holds no record but the bystander's.
func TestBadInputMatrix(t *testing.T) {
	st := newLiveStore(memstore.New(nil))
	env := &matrixEnv{st: st, auth: &authLog{}}
	env.srv = mullettest.NewServer(t, newMatrixApp(env.auth), &mullettest.Options{Store: st})
	env.bystander = dialToken(t, env.srv, matrixToken, "user=bystander")
	env.bystander.Send(t, `{"action":"nick","nick":"bystander"}`)
	env.bystander.Read(t)
	for range 3 {
		env.bystander.Send(t, `{"action":"incr"}`)
		env.bystander.Read(t)
	}
	want := getReply{State: mState{Nick: "bystander", Count: 3}, Auth: map[string]string{"user": "bystander", "level": "1"}}
	first := get(t, env.bystander)
	env.byID, want.ID = first.ID, first.ID
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("bystander = %+v, want %+v", first, want)
	}
	var err error
	if env.byState, err = st.LoadState(context.Background(), env.byID); err != nil {
		t.Fatal(err)
	}
	st.waitRecords(t, 1)

	cases := badInputs()
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.layer+"/"+tc.input, func(t *testing.T) {
			env.closers = nil
			tc.run(t, env)
			for _, c := range env.closers {
				c()
			}
			// The bystander is untouched.
			if got := get(t, env.bystander); !reflect.DeepEqual(got, want) {
				t.Fatalf("bystander after %q: %+v, want %+v", tc.input, got, want)
			}
			s, err := st.LoadState(context.Background(), env.byID)
			if err != nil || s.Version != env.byState.Version || !bytes.Equal(s.Data, env.byState.Data) {
				t.Fatalf("bystander's stored state after %q: %+v %v, want %+v", tc.input, s, err, env.byState)
			}
			// Nothing is left behind.
			st.waitRecords(t, 1)
		})
	}
	// The emulator still accepts new connections.
	c := dialToken(t, env.srv, matrixToken, "")
	if r := get(t, c); r.Auth["user"] != "anon" {
		t.Fatalf("new connection after the matrix: %+v", r)
	}
}

// TestReliabilityDocListsEveryCase keeps docs/reliability.md in step with
// the matrix: every case's input must appear in it.
func TestReliabilityDocListsEveryCase(t *testing.T) {
	if os.Getenv("MULLET_PRINT_MATRIX") != "" {
		for _, tc := range badInputs() {
			t.Logf("| %s | %s | %s | `TestBadInputMatrix` |", tc.layer, tc.input, tc.gets)
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "reliability.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range badInputs() {
		if !bytes.Contains(doc, []byte("| "+tc.input+" |")) {
			t.Errorf("docs/reliability.md has no row for %s %q", tc.layer, tc.input)
		}
	}
}
