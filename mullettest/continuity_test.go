package mullettest_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// contProfile is the continuity test app's per-session state.
type contProfile struct {
	Nick string `json:"nick,omitempty"`
}

type contNick struct {
	Nick string `json:"nick" schema:"minLength=1"`
}

type contRoom struct {
	Room string `json:"room" schema:"minLength=1"`
}

type contSay struct {
	Room string `json:"room" schema:"minLength=1"`
	Text string `json:"text"`
}

type contOpts struct {
	window int
	grace  time.Duration
}

// contApp declares sessions with per-session state and durable rooms with
// presence.
func contApp(o contOpts) *framework.App[contProfile] {
	app := framework.New[contProfile]("cont", &framework.Options{Sessions: &framework.SessionOptions{SessionState: true, TTL: time.Minute}})
	app.Groups("room", &framework.GroupOptions{Durable: true, Window: o.window, Presence: true, Grace: o.grace})
	framework.Handle(app, "nick", func(ctx context.Context, c *framework.Conn[contProfile], m contNick) error {
		if err := c.UpdateState(ctx, func(p *contProfile) error { p.Nick = m.Nick; return nil }); err != nil {
			return err
		}
		return c.ReplyJSON(ctx, map[string]string{"nick": m.Nick})
	}, nil)
	framework.Handle(app, "whoami", func(ctx context.Context, c *framework.Conn[contProfile], _ struct{}) error {
		p, err := c.State(ctx)
		if err != nil {
			return err
		}
		return c.ReplyJSON(ctx, p)
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "join", func(ctx context.Context, c *framework.Conn[contProfile], m contRoom) error {
		p, err := c.State(ctx)
		if err != nil {
			return err
		}
		if err := c.Present(ctx, m.Room, map[string]string{"nick": p.Nick}, &framework.PresenceOptions{Events: true}); err != nil {
			return err
		}
		return c.ReplyJSON(ctx, map[string]string{"joined": m.Room})
	}, nil)
	framework.Handle(app, "say", func(ctx context.Context, c *framework.Conn[contProfile], m contSay) error {
		_, err := c.BroadcastJSON(ctx, m.Room, map[string]string{"text": m.Text})
		return err
	}, nil)
	framework.Handle(app, "who", func(ctx context.Context, c *framework.Conn[contProfile], m contRoom) error {
		ms, err := c.Presence(ctx, m.Room)
		if err != nil {
			return err
		}
		return c.ReplyJSON(ctx, ms)
	}, nil)
	return app
}

func contBackends() map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"memory":   func(t *testing.T) store.Store { return memstore.New(nil) },
		"dynamodb": func(t *testing.T) store.Store { return dynalitetest.NewStore(t) },
	}
}

func randomToken(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// session is a client's side of a session: its ID and secrets.
type session struct {
	id, secret string // secret is "" before the session exists
	proposed   string // the next secret proposed by the last dial
	// fresh dials every upgrade on a new TCP connection. Go's HTTP client
	// resends a request that failed on a reused keep-alive connection; a
	// resent upgrade whose first copy was applied is refused as a replay,
	// and the client would wrongly take its proposal for unused.
	fresh *http.Client
}

func newSession(t testing.TB) *session { return &session{id: randomToken(t, 16)} }

// dial presents the session and, on success, rotates the secret.
func (s *session) dial(ctx context.Context, srv *mullettest.Server) (*mullettest.Client, error) {
	next := randomToken(nil, 32)
	q := url.Values{framework.ParamSession: {s.id}, framework.ParamNext: {framework.HashSecret(next)}}
	if s.secret != "" {
		q.Set(framework.ParamSecret, s.secret)
	}
	s.proposed = next
	var c *mullettest.Client
	var err error
	if s.fresh != nil {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		conn, resp, derr := websocket.Dial(dctx, srv.URL+"?"+q.Encode(), &websocket.DialOptions{HTTPClient: s.fresh})
		switch {
		case derr != nil && resp != nil:
			err = &mullettest.HandshakeError{Status: resp.StatusCode, Err: derr}
		case derr != nil:
			err = derr
		default:
			conn.SetReadLimit(1 << 20)
			c = &mullettest.Client{Conn: conn}
		}
	} else {
		c, err = srv.DialErr(ctx, &mullettest.DialOptions{Query: q})
	}
	if err != nil {
		return nil, err
	}
	s.secret = next
	return c, nil
}

func (s *session) mustDial(t *testing.T, srv *mullettest.Server) *mullettest.Client {
	t.Helper()
	c, err := s.dial(context.Background(), srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Conn.CloseNow() })
	return c
}

// contFrame is any contFrame the test app or the framework sends.
type contFrame struct {
	Mullet  string                     `json:"mullet"`
	Group   string                     `json:"group"`
	Epoch   string                     `json:"epoch"`
	Offset  int64                      `json:"offset"`
	Data    json.RawMessage            `json:"data"`
	Event   string                     `json:"event"`
	Session string                     `json:"session"`
	Code    string                     `json:"code"`
	Groups  map[string]json.RawMessage `json:"groups"`
	More    bool                       `json:"more"`
	From    *struct {
		Epoch  string `json:"epoch"`
		Offset int64  `json:"offset"`
	} `json:"from"`
	RID    string `json:"$rid"`
	Nick   string `json:"nick"`
	Joined string `json:"joined"`

	raw []byte
}

// collect reads c's frames in the background until it closes.
func collect(t *testing.T, c *mullettest.Client) <-chan contFrame {
	out := make(chan contFrame, 1024)
	go func() {
		defer close(out)
		for {
			_, data, err := c.Conn.Read(context.Background())
			if err != nil {
				return
			}
			f := contFrame{raw: data}
			_ = json.Unmarshal(data, &f)
			out <- f
		}
	}()
	return out
}

func readFrame(t *testing.T, c *mullettest.Client) contFrame {
	t.Helper()
	raw := c.Read(t)
	var f contFrame
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		t.Fatalf("frame %q: %v", raw, err)
	}
	return f
}

func expectStatus(t *testing.T, err error, status int) {
	t.Helper()
	var he *mullettest.HandshakeError
	if !errors.As(err, &he) || he.Status != status {
		t.Fatalf("dial = %v, want a refusal with HTTP %d", err, status)
	}
}

func TestSessions(t *testing.T) {
	for name, newStore := range contBackends() {
		t.Run(name, func(t *testing.T) {
			srv := mullettest.NewServer(t, contApp(contOpts{window: 10, grace: time.Second}), &mullettest.Options{Store: newStore(t)})
			ann := newSession(t)
			c := ann.mustDial(t, srv)
			c.Send(t, `{"action":"nick","nick":"ann"}`)
			if f := readFrame(t, c); f.Nick != "ann" {
				t.Fatalf("nick reply = %+v", f)
			}
			used := ann.secret
			c.Conn.Close(1000, "bye")

			// Resume: per-session state carries over.
			c = ann.mustDial(t, srv)
			c.Send(t, `{"action":"whoami","$rid":"r1"}`)
			if f := readFrame(t, c); f.Nick != "ann" || f.RID != "r1" {
				t.Fatalf("whoami after resume = %+v, want ann tagged r1", f)
			}
			// A reused, forged or unknown secret is refused and changes nothing.
			reused := &session{id: ann.id, secret: used}
			_, err := reused.dial(context.Background(), srv)
			expectStatus(t, err, http.StatusForbidden)
			forged := &session{id: ann.id, secret: randomToken(t, 32)}
			_, err = forged.dial(context.Background(), srv)
			expectStatus(t, err, http.StatusForbidden)
			unknown := &session{id: randomToken(t, 16), secret: randomToken(t, 32)}
			_, err = unknown.dial(context.Background(), srv)
			expectStatus(t, err, http.StatusForbidden)
			taken := &session{id: ann.id}
			_, err = taken.dial(context.Background(), srv)
			expectStatus(t, err, http.StatusConflict)
			_, err = srv.DialErr(context.Background(), &mullettest.DialOptions{Query: url.Values{framework.ParamSession: {"short"}, framework.ParamNext: {"x"}}})
			expectStatus(t, err, http.StatusBadRequest)
			// The refusals touched nothing: the live connection still
			// works and the current secret still resumes.
			c.Send(t, `{"action":"whoami"}`)
			if f := readFrame(t, c); f.Nick != "ann" || f.RID != "" {
				t.Fatalf("whoami = %+v", f)
			}

			// Resuming while the old connection is open closes it.
			c2 := ann.mustDial(t, srv)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, _, err := c.Conn.Read(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("the old connection was not closed: %v", err)
			}
			c2.Send(t, `{"action":"whoami"}`)
			if f := readFrame(t, c2); f.Nick != "ann" {
				t.Fatalf("whoami on the new connection = %+v", f)
			}
		})
	}
}

// syncRead sends sync with positions and returns the msg frames replayed
// before synced, and any discontinuity frames.
func syncRead(t *testing.T, c *mullettest.Client, positions map[string]store.Position) (msgs, discs []contFrame) {
	t.Helper()
	msgs, discs, _ = syncPage(t, c, positions)
	return msgs, discs
}

// syncPage is syncRead that also returns the synced frame.
func syncPage(t *testing.T, c *mullettest.Client, positions map[string]store.Position) (msgs, discs []contFrame, synced contFrame) {
	t.Helper()
	ps := map[string]map[string]any{}
	for g, p := range positions {
		ps[g] = map[string]any{"epoch": p.Epoch, "offset": p.Offset}
	}
	c.SendJSON(t, map[string]any{"mullet": "sync", "positions": ps, "$rid": "s"})
	for {
		f := readFrame(t, c)
		switch f.Mullet {
		case "msg":
			msgs = append(msgs, f)
		case "discontinuity":
			discs = append(discs, f)
		case "synced":
			if f.RID != "s" {
				t.Fatalf("synced without the sync's $rid: %+v", f)
			}
			return msgs, discs, f
		}
	}
}

func texts(fs []contFrame) []string {
	var out []string
	for _, f := range fs {
		var v struct{ Text string }
		_ = json.Unmarshal(f.Data, &v)
		out = append(out, v.Text)
	}
	return out
}

// readUntil reads frames until one satisfies ok, skipping the others.
func readUntil(t *testing.T, c *mullettest.Client, ok func(contFrame) bool) contFrame {
	t.Helper()
	for {
		if f := readFrame(t, c); ok(f) {
			return f
		}
	}
}

func TestReplayAfterCut(t *testing.T) {
	for name, newStore := range contBackends() {
		t.Run(name, func(t *testing.T) {
			srv := mullettest.NewServer(t, contApp(contOpts{window: 50, grace: time.Second}), &mullettest.Options{Store: newStore(t)})
			ann, bob := newSession(t), newSession(t)
			a, b := ann.mustDial(t, srv), bob.mustDial(t, srv)
			a.Send(t, `{"action":"join","room":"room1"}`)
			readUntil(t, a, func(f contFrame) bool { return f.Joined == "room1" })
			b.Send(t, `{"action":"join","room":"room1"}`)
			readUntil(t, b, func(f contFrame) bool { return f.Joined == "room1" })
			a.Send(t, `{"action":"say","room":"room1","text":"m1"}`)
			first := readUntil(t, b, func(f contFrame) bool { return f.Mullet == "msg" })
			if got := texts([]contFrame{first}); got[0] != "m1" {
				t.Fatalf("first message = %v", got)
			}
			b.Conn.CloseNow() // cut
			for i := 2; i <= 6; i++ {
				a.Send(t, fmt.Sprintf(`{"action":"say","room":"room1","text":"m%d"}`, i))
				readUntil(t, a, func(f contFrame) bool { return f.Mullet == "msg" && f.Offset == first.Offset+int64(i-1) })
			}
			b = bob.mustDial(t, srv)
			msgs, discs := syncRead(t, b, map[string]store.Position{"room1": {Epoch: first.Epoch, Offset: first.Offset}})
			if len(discs) != 0 {
				t.Fatalf("discontinuity %+v, want none", discs)
			}
			if got := texts(msgs); !slices.Equal(got, []string{"m2", "m3", "m4", "m5", "m6"}) {
				t.Fatalf("replayed %v, want m2..m6", got)
			}
			for i, m := range msgs {
				if m.Epoch != first.Epoch || m.Offset != first.Offset+1+int64(i) {
					t.Fatalf("replayed position %s/%d at %d", m.Epoch, m.Offset, i)
				}
			}
			// Live again, in the same stream.
			a.Send(t, `{"action":"say","room":"room1","text":"m7"}`)
			live := readUntil(t, b, func(f contFrame) bool { return f.Mullet == "msg" })
			if live.Offset != first.Offset+6 || texts([]contFrame{live})[0] != "m7" {
				t.Fatalf("live after resume = %+v", live)
			}
			// A sync without positions replays from the session's join.
			msgs, _ = syncRead(t, b, nil)
			if got := texts(msgs); !slices.Equal(got, []string{"m1", "m2", "m3", "m4", "m5", "m6", "m7"}) {
				t.Fatalf("sync from the join position replayed %v", got)
			}
		})
	}
}

// TestReplayPages: a client further behind than a page gets it in pages:
// each synced but the last says "more", and syncing again from the
// positions the page reached gets the rest, in order, without a repeat.
func TestReplayPages(t *testing.T) {
	srv := mullettest.NewServer(t, contApp(contOpts{window: 1000, grace: time.Second}), nil)
	ann, bob := newSession(t), newSession(t)
	a, b := ann.mustDial(t, srv), bob.mustDial(t, srv)
	for _, c := range []*mullettest.Client{a, b} {
		c.Send(t, `{"action":"join","room":"room1"}`)
		readUntil(t, c, func(f contFrame) bool { return f.Joined == "room1" })
	}
	b.Conn.CloseNow() // cut
	missed := framework.ReplayPage + 44
	var first contFrame
	for i := range missed {
		a.Send(t, fmt.Sprintf(`{"action":"say","room":"room1","text":"m%d"}`, i))
		f := readUntil(t, a, func(f contFrame) bool { return f.Mullet == "msg" })
		if i == 0 {
			first = f
		}
	}
	b = bob.mustDial(t, srv)
	// No position: the replay starts at the session's join.
	var got []contFrame
	var pos map[string]store.Position
	for page := 1; ; page++ {
		msgs, _, synced := syncPage(t, b, pos)
		if len(msgs) > framework.ReplayPage {
			t.Fatalf("page %d holds %d messages, more than a page", page, len(msgs))
		}
		got = append(got, msgs...)
		if !synced.More {
			break
		}
		if page > 2 || len(msgs) == 0 {
			t.Fatalf("page %d: synced says more after %d messages", page, len(msgs))
		}
		last := msgs[len(msgs)-1]
		pos = map[string]store.Position{"room1": {Epoch: last.Epoch, Offset: last.Offset}}
	}
	if len(got) != missed {
		t.Fatalf("replayed %d messages in pages, want %d", len(got), missed)
	}
	for i, m := range got {
		if m.Offset != first.Offset+int64(i) || texts([]contFrame{m})[0] != fmt.Sprintf("m%d", i) {
			t.Fatalf("message %d of the pages: offset %d, %s", i, m.Offset, m.Data)
		}
	}
}

func TestDiscontinuity(t *testing.T) {
	for name, newStore := range contBackends() {
		t.Run(name, func(t *testing.T) {
			srv := mullettest.NewServer(t, contApp(contOpts{window: 3, grace: time.Second}), &mullettest.Options{Store: newStore(t)})
			ann, bob := newSession(t), newSession(t)
			a, b := ann.mustDial(t, srv), bob.mustDial(t, srv)
			for _, c := range []*mullettest.Client{a, b} {
				c.Send(t, `{"action":"join","room":"room1"}`)
				readUntil(t, c, func(f contFrame) bool { return f.Joined == "room1" })
			}
			a.Send(t, `{"action":"say","room":"room1","text":"m1"}`)
			first := readUntil(t, b, func(f contFrame) bool { return f.Mullet == "msg" })
			b.Conn.CloseNow()
			var last contFrame
			for i := 2; i <= 10; i++ {
				a.Send(t, fmt.Sprintf(`{"action":"say","room":"room1","text":"m%d"}`, i))
				last = readUntil(t, a, func(f contFrame) bool { return f.Mullet == "msg" && f.Offset == first.Offset+int64(i-1) })
			}
			b = bob.mustDial(t, srv)
			msgs, discs := syncRead(t, b, map[string]store.Position{"room1": {Epoch: first.Epoch, Offset: first.Offset}})
			if len(msgs) != 0 || len(discs) != 1 {
				t.Fatalf("got %d messages and %d discontinuities, want a discontinuity only", len(msgs), len(discs))
			}
			d := discs[0]
			if d.Group != "room1" || d.Epoch != last.Epoch || d.Offset != last.Offset || d.From == nil || d.From.Offset != first.Offset {
				t.Fatalf("discontinuity = %+v, want from %d to %d", d, first.Offset, last.Offset)
			}
		})
	}
}

func TestPresenceChurn(t *testing.T) {
	const grace = time.Second
	for name, newStore := range contBackends() {
		t.Run(name, func(t *testing.T) {
			srv := mullettest.NewServer(t, contApp(contOpts{window: 10, grace: grace}), &mullettest.Options{Store: newStore(t)})
			ann, bob := newSession(t), newSession(t)
			a := ann.mustDial(t, srv)
			a.Send(t, `{"action":"join","room":"room1"}`)
			readUntil(t, a, func(f contFrame) bool { return f.Joined == "room1" })
			b := bob.mustDial(t, srv)
			b.Send(t, `{"action":"nick","nick":"bob"}`)
			readFrame(t, b)
			b.Send(t, `{"action":"join","room":"room1"}`)
			join := readUntil(t, a, func(f contFrame) bool { return f.Mullet == "presence" })
			if join.Event != "join" || join.Session != bob.id || string(join.Data) != `{"nick":"bob"}` {
				t.Fatalf("presence = %+v, want bob's join", join)
			}
			// Churn within the grace period: closes and abrupt drops, each
			// followed by a quick resume.
			for i := range 6 {
				if i%2 == 0 {
					b.Conn.Close(1000, "")
				} else {
					b.Conn.CloseNow()
				}
				time.Sleep(100 * time.Millisecond)
				b = bob.mustDial(t, srv)
			}
			frames := collect(t, a)
			quiet := func(d time.Duration) {
				t.Helper()
				deadline := time.After(d)
				for {
					select {
					case f := <-frames:
						if f.Mullet == "presence" {
							t.Fatalf("presence event %+v during reconnect churn within the grace period", f)
						}
					case <-deadline:
						return
					}
				}
			}
			quiet(grace + 1500*time.Millisecond)
			a.Send(t, `{"action":"who","room":"room1"}`)
			var who contFrame
			select {
			case who = <-frames:
			case <-time.After(5 * time.Second):
				t.Fatal("no answer to who")
			}
			var members []framework.Member
			if err := json.Unmarshal(who.raw, &members); err != nil || len(members) != 2 {
				t.Fatalf("who = %s, want ann and bob", who.raw)
			}
			// An abrupt drop: exactly one leave, after the grace period.
			dropped := time.Now()
			b.Conn.CloseNow()
			var leave contFrame
			select {
			case leave = <-frames:
			case <-time.After(grace + 5*time.Second):
				t.Fatal("no leave after an abrupt drop")
			}
			if leave.Event != "leave" || leave.Session != bob.id {
				t.Fatalf("presence = %+v, want bob's leave", leave)
			}
			if waited := time.Since(dropped); waited < grace-100*time.Millisecond {
				t.Fatalf("leave after %v, before the grace period %v", waited, grace)
			}
			quiet(2 * grace)
		})
	}
}
