package mullettest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/store"
)

// The app the bad-input matrix, the security tests and the soak drive: an
// authorizer (token in the Authorization header or ?token=), per-connection
// state, two-way routes with schemas, handlers that fail, and a push to an
// arbitrary connection ID taken from the frame.

type mState struct {
	Nick  string `json:"nick,omitempty"`
	Count int    `json:"count,omitempty"`
}

type setNick struct {
	Nick string `json:"nick" schema:"minLength=1,maxLength=16,pattern=^[^\\s].*$"`
}

type echo struct {
	Text string `json:"text" schema:"maxLength=64"`
	N    int    `json:"n,omitempty" schema:"minimum=0,maximum=10"`
}

type push struct {
	To   string `json:"to" schema:"minLength=1,maxLength=200"`
	Text string `json:"text" schema:"maxLength=64"`
}

// getReply is what "get" answers: who the caller is, its state and its
// authorizer context.
type getReply struct {
	ID    string            `json:"id"`
	State mState            `json:"state"`
	Auth  map[string]string `json:"auth"`
}

// authLog records, per token, the connection IDs the authorizer saw, so
// that a test can check that a refused connection left nothing behind.
type authLog struct {
	mu   sync.Mutex
	seen map[string][]string
}

func (l *authLog) add(token, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string][]string{}
	}
	l.seen[token] = append(l.seen[token], id)
}

func (l *authLog) ids(token string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen[token]...)
}

// matrixToken is the token the matrix app accepts. The "user" query
// parameter (default "anon") becomes the authorizer context's user.
const matrixToken = "good-token-s3cr3t"

func newMatrixApp(log *authLog) *framework.App[mState] {
	app := framework.New[mState]("matrix", nil)
	app.Authorize(func(ctx context.Context, req *framework.ConnectRequest) (framework.AuthContext, error) {
		tok, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if tok == "" {
			tok = req.Query.Get("token")
		}
		log.add(tok, req.ConnectionID)
		switch tok {
		case "":
			return nil, framework.Reject(http.StatusUnauthorized, "missing token")
		case matrixToken:
			user := req.Query.Get("user")
			if user == "" {
				user = "anon"
			}
			return framework.AuthContext{"user": user, "level": 1}, nil
		case "explode":
			panic("authorizer bug")
		case "nested":
			return framework.AuthContext{"user": []string{"not", "a", "scalar"}}, nil
		}
		return nil, framework.Reject(http.StatusForbidden, "bad token")
	}, nil)
	app.OnConnect(func(ctx context.Context, c *framework.Conn[mState]) error {
		if c.Event().QueryStringParameters["room"] == "full" {
			return framework.Reject(http.StatusConflict, "room is full")
		}
		return nil
	})
	framework.Handle(app, "nick", func(ctx context.Context, c *framework.Conn[mState], m setNick) error {
		var s mState
		if err := c.UpdateState(ctx, func(p *mState) error { p.Nick = m.Nick; s = *p; return nil }); err != nil {
			return err
		}
		return c.ReplyJSON(ctx, s)
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "incr", func(ctx context.Context, c *framework.Conn[mState], _ struct{}) error {
		var s mState
		if err := c.UpdateState(ctx, func(p *mState) error { p.Count++; s = *p; return nil }); err != nil {
			return err
		}
		return c.ReplyJSON(ctx, s)
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "get", func(ctx context.Context, c *framework.Conn[mState], _ struct{}) error {
		s, err := c.State(ctx)
		if err != nil {
			return err
		}
		ac, err := c.AuthContext(ctx)
		if err != nil {
			return err
		}
		auth := map[string]string{}
		for k, v := range ac {
			auth[k] = fmt.Sprint(v)
		}
		return c.ReplyJSON(ctx, getReply{ID: c.ConnectionID(), State: s, Auth: auth})
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "echo", func(ctx context.Context, c *framework.Conn[mState], m echo) error {
		return c.ReplyText(ctx, m.Text)
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "fail", func(ctx context.Context, c *framework.Conn[mState], _ struct{}) error {
		return errors.New("database on fire")
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "refuse", func(ctx context.Context, c *framework.Conn[mState], _ struct{}) error {
		return framework.NewError(http.StatusConflict, "not now")
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "push", func(ctx context.Context, c *framework.Conn[mState], m push) error {
		err := c.SendText(ctx, m.To, m.Text)
		switch {
		case errors.Is(err, framework.ErrGone):
			return framework.NewError(http.StatusNotFound, "no such connection: %s", m.To)
		case err != nil:
			return &framework.Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("cannot push to %q", m.To), Err: err}
		}
		return nil
	}, nil)
	return app
}

// liveStore counts the connection records a store holds, so that tests can
// wait until every closed connection's record is gone.
type liveStore struct {
	store.Store
	mu   sync.Mutex
	live map[string]bool
}

func newLiveStore(inner store.Store) *liveStore {
	return &liveStore{Store: inner, live: map[string]bool{}}
}

func (s *liveStore) PutConnection(ctx context.Context, c store.Connection) error {
	err := s.Store.PutConnection(ctx, c)
	if err == nil {
		s.mu.Lock()
		s.live[c.ID] = true
		s.mu.Unlock()
	}
	return err
}

func (s *liveStore) DeleteConnection(ctx context.Context, id string) error {
	err := s.Store.DeleteConnection(ctx, id)
	if err == nil {
		s.mu.Lock()
		delete(s.live, id)
		s.mu.Unlock()
	}
	return err
}

func (s *liveStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

// waitRecords waits until the store holds n connection records.
func (s *liveStore) waitRecords(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.count() != n {
		if time.Now().After(deadline) {
			t.Fatalf("store holds %d connection records, want %d", s.count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialToken connects a websocket client with a bearer token.
func dialToken(t *testing.T, srv *mullettest.Server, token, query string) *mullettest.Client {
	t.Helper()
	c, err := dialTokenErr(srv, token, query)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Conn.CloseNow() })
	return c
}

func dialTokenErr(srv *mullettest.Server, token, query string) (*mullettest.Client, error) {
	u := srv.URL
	if query != "" {
		u += "?" + query
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var h http.Header
	if token != "" {
		h = http.Header{"Authorization": {"Bearer " + token}}
	}
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(resp.Body)
			return nil, &mullettest.HandshakeError{Status: resp.StatusCode, Err: fmt.Errorf("%w: %s", err, body)}
		}
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return &mullettest.Client{Conn: conn}, nil
}

// get asks for the caller's identity, state and authorizer context.
func get(t *testing.T, c *mullettest.Client) getReply {
	t.Helper()
	c.Send(t, `{"action":"get"}`)
	frame := c.Read(t)
	var r getReply
	if err := json.Unmarshal([]byte(frame), &r); err != nil || r.ID == "" {
		t.Fatalf("get: %q (%v)", frame, err)
	}
	return r
}

// errorFrame is the frame API Gateway (the emulator) sends for a refused or
// failed message, with its exact spacing.
type errorFrame struct {
	Message      string `json:"message"`
	ConnectionID string `json:"connectionId"`
	RequestID    string `json:"requestId"`
}

// expectErrorFrame reads the next frame and checks that it is an error
// frame with message for connection id.
func expectErrorFrame(t *testing.T, c *mullettest.Client, id, message string) {
	t.Helper()
	frame := c.Read(t)
	var e errorFrame
	if err := json.Unmarshal([]byte(frame), &e); err != nil {
		t.Fatalf("frame %q is not an error frame: %v", frame, err)
	}
	if e.Message != message || e.ConnectionID != id || len(e.RequestID) != 16 {
		t.Fatalf("error frame %s; want message %q for %s", frame, message, id)
	}
}

// rawConn is a client that speaks raw WebSocket frames after a real
// handshake.
type rawConn struct {
	net.Conn
	br *bufio.Reader
	id string
}

// dialRaw completes a handshake (with the matrix token) and learns the
// connection's ID with a "get".
func dialRaw(t *testing.T, srv *mullettest.Server) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{}.Dial(ctx, srv.URL+"?token="+matrixToken)
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	if br == nil {
		br = bufio.NewReader(conn)
	}
	rc := &rawConn{Conn: conn, br: br}
	t.Cleanup(func() { conn.Close() })
	rc.write(t, frame(true, 0, ws.OpText, true, []byte(`{"action":"get"}`)))
	var r getReply
	if err := json.Unmarshal(rc.readText(t), &r); err != nil {
		t.Fatalf("raw get: %v", err)
	}
	rc.id = r.ID
	return rc
}

func (c *rawConn) write(t *testing.T, b []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatalf("raw write: %v", err)
	}
}

// readText returns the next text message (the emulator fragments at 32
// KiB; these tests read small ones).
func (c *rawConn) readText(t *testing.T) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := ws.ReadFrame(c.br)
	if err != nil {
		t.Fatalf("raw read: %v", err)
	}
	if f.Header.OpCode != ws.OpText || !f.Header.Fin {
		t.Fatalf("raw read: frame %+v", f.Header)
	}
	return f.Payload
}

// closeCode reads until the emulator's close frame and returns its code,
// then answers it and closes the socket. It returns 0 if the socket ended
// without a close frame.
func (c *rawConn) closeCode(t *testing.T) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = c.SetReadDeadline(deadline)
		f, err := ws.ReadFrame(c.br)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("no close frame within 5s: the emulator hangs")
			}
			return 0
		}
		if f.Header.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(f.Payload)
			_, _ = c.Write(frame(true, 0, ws.OpClose, true, f.Payload[:min(2, len(f.Payload))]))
			_ = c.Close()
			return int(code)
		}
	}
}

// frame encodes one client frame by hand, so that tests can send what no
// well-behaved library would: masked with the zero key (the payload is
// unchanged), or not masked at all.
func frame(fin bool, rsv byte, op ws.OpCode, masked bool, payload []byte) []byte {
	b0 := byte(op) | rsv<<4
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, m|byte(n))
	case n <= 0xffff:
		out = append(out, m|126, byte(n>>8), byte(n))
	default:
		out = append(out, m|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if masked {
		out = append(out, 0, 0, 0, 0)
	}
	return append(out, payload...)
}
