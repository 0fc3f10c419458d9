package framework_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/store"
)

type profile struct {
	Nick  string `json:"nick,omitempty"`
	Count int    `json:"count,omitempty"`
}

type echoMsg struct {
	Text string `json:"text" schema:"maxLength=16"`
}

type nickMsg struct {
	Nick string `json:"nick" schema:"minLength=1,maxLength=8"`
}

type measureMsg struct {
	Value float64 `json:"value" schema:"minimum=0,maximum=100"`
}

type testApp struct {
	*framework.App[profile]
	calls atomic.Int64
}

func newTestApp(withDefault bool) *testApp {
	ta := &testApp{App: framework.New[profile]("test", nil)}
	framework.Handle(ta.App, "echo", func(ctx context.Context, c *framework.Conn[profile], m echoMsg) error {
		ta.calls.Add(1)
		return c.ReplyJSON(ctx, map[string]string{"echo": m.Text})
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(ta.App, "nick", func(ctx context.Context, c *framework.Conn[profile], m nickMsg) error {
		ta.calls.Add(1)
		return c.UpdateState(ctx, func(p *profile) error { p.Nick = m.Nick; return nil })
	}, nil)
	framework.Handle(ta.App, "incr", func(ctx context.Context, c *framework.Conn[profile], _ struct{}) error {
		ta.calls.Add(1)
		return c.UpdateState(ctx, func(p *profile) error { p.Count++; return nil })
	}, nil)
	framework.Handle(ta.App, "whoami", func(ctx context.Context, c *framework.Conn[profile], _ struct{}) error {
		ta.calls.Add(1)
		p, err := c.State(ctx)
		if err != nil {
			return err
		}
		return c.ReplyJSON(ctx, p)
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(ta.App, "measure", func(ctx context.Context, c *framework.Conn[profile], m measureMsg) error {
		ta.calls.Add(1)
		return c.ReplyJSON(ctx, m)
	}, nil)
	framework.Handle(ta.App, "fail", func(ctx context.Context, c *framework.Conn[profile], _ struct{}) error {
		ta.calls.Add(1)
		return errors.New("database on fire")
	}, nil)
	framework.Handle(ta.App, "refuse", func(ctx context.Context, c *framework.Conn[profile], _ struct{}) error {
		ta.calls.Add(1)
		return framework.NewError(http.StatusConflict, "room is full")
	}, nil)
	if withDefault {
		ta.Default(func(ctx context.Context, c *framework.Conn[profile], body []byte) error {
			ta.calls.Add(1)
			return c.ReplyText(ctx, "default:"+string(body))
		}, nil)
	}
	return ta
}

type errorFrame struct {
	Message      string `json:"message"`
	ConnectionID string `json:"connectionId"`
	RequestID    string `json:"requestId"`
}

func decodeErrorFrame(t *testing.T, frame string) errorFrame {
	t.Helper()
	var f errorFrame
	if err := json.Unmarshal([]byte(frame), &f); err != nil {
		t.Fatalf("error frame %q is not JSON: %v", frame, err)
	}
	if f.Message == "" || f.ConnectionID == "" || f.RequestID == "" {
		t.Fatalf("error frame %q lacks message, connectionId or requestId", frame)
	}
	return f
}

func TestLifecycle(t *testing.T) {
	app := newTestApp(false)
	h := newHarness(t, app)
	if resp := h.connect("conn1"); resp.StatusCode != 200 {
		t.Fatalf("$connect = %d", resp.StatusCode)
	}
	rec, err := h.store.GetConnection(context.Background(), "conn1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.SourceIP != "49.105.91.154" {
		t.Fatalf("connection record source IP = %q", rec.SourceIP)
	}
	resp := h.send("conn1", `{"action":"echo","text":"hi"}`)
	if resp.StatusCode != 200 || resp.Body != `{"echo":"hi"}` {
		t.Fatalf("echo = %d %q", resp.StatusCode, resp.Body)
	}
	if resp := h.send("conn1", `{"action":"nick","nick":"ann"}`); resp.StatusCode != 200 {
		t.Fatalf("nick = %d %q", resp.StatusCode, resp.Body)
	}
	if resp := h.send("conn1", `{"action":"whoami"}`); resp.Body != `{"nick":"ann"}` {
		t.Fatalf("whoami = %q", resp.Body)
	}
	if resp := h.disconnect("conn1"); resp.StatusCode != 200 {
		t.Fatalf("$disconnect = %d", resp.StatusCode)
	}
	if _, err := h.store.GetConnection(context.Background(), "conn1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record after $disconnect: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	tests := []struct {
		name        string
		withDefault bool
		body        string
		want        string // substring of the error frame's message
		oneWay      bool   // error frame arrives through @connections
	}{
		{name: "malformed JSON", body: `{"action":"echo","text":`, want: "No route could be selected", oneWay: true},
		{name: "malformed JSON with default", withDefault: true, body: `{"action":"echo","text":`, want: ""},
		{name: "wrong type", body: `{"action":"echo","text":5}`, want: "/text: type"},
		{name: "missing field", body: `{"action":"echo"}`, want: "required"},
		{name: "extra field", body: `{"action":"echo","text":"a","admin":true}`, want: "additionalProperties"},
		{name: "string too long", body: `{"action":"echo","text":"aaaaaaaaaaaaaaaaaaaaaaaaa"}`, want: "/text: maxLength"},
		{name: "string too short one-way", body: `{"action":"nick","nick":""}`, want: "/nick: minLength", oneWay: true},
		{name: "no action field", body: `{"text":"hi"}`, want: "No route could be selected", oneWay: true},
		{name: "unknown route", body: `{"action":"nope"}`, want: `No route "nope"`, oneWay: true},
		{name: "deeply nested", body: `{"action":"echo","text":"a","x":` + deep + `}`, want: "nested deeper than 64"},
		{name: "huge number over maximum", body: `{"action":"measure","value":1e400}`, want: "/value: maximum"},
		{name: "huge integer", body: `{"action":"measure","value":123456789012345678901234567890}`, want: "/value: maximum"},
		{name: "not an object", body: `[1,2,3]`, want: "No route could be selected", oneWay: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newTestApp(tt.withDefault)
			h := newHarness(t, app)
			h.connect("c1")
			resp := h.send("c1", tt.body)
			if tt.withDefault {
				if resp.StatusCode != 200 || !strings.HasPrefix(resp.Body, "") {
					t.Fatalf("with $default: %d %q", resp.StatusCode, resp.Body)
				}
				if app.calls.Load() != 1 {
					t.Fatalf("$default not called")
				}
				return
			}
			if app.calls.Load() != 0 {
				t.Fatalf("handler was called for bad input")
			}
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Fatalf("status = %d, want 4xx", resp.StatusCode)
			}
			frame := resp.Body
			if tt.oneWay {
				frames := h.api.framesOf("c1")
				if len(frames) != 1 {
					t.Fatalf("frames through @connections = %q, want one error frame", frames)
				}
				frame = frames[0]
			}
			f := decodeErrorFrame(t, frame)
			if !strings.Contains(f.Message, tt.want) {
				t.Fatalf("error frame message %q does not contain %q", f.Message, tt.want)
			}
			if f.ConnectionID != "c1" {
				t.Fatalf("error frame connectionId = %q", f.ConnectionID)
			}
			// The connection is still usable.
			if resp := h.send("c1", `{"action":"echo","text":"ok"}`); resp.Body != `{"echo":"ok"}` {
				t.Fatalf("after bad input, echo = %q", resp.Body)
			}
		})
	}
}

func TestDefaultRoute(t *testing.T) {
	app := newTestApp(true)
	h := newHarness(t, app)
	h.connect("c1")
	for _, body := range []string{`not json`, `{"action":"nope"}`, `{"text":"x"}`} {
		resp := h.send("c1", body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", body, resp.StatusCode)
		}
		if got := h.api.framesOf("c1"); len(got) == 0 || got[len(got)-1] != "default:"+body {
			t.Fatalf("%s: frames %q", body, got)
		}
	}
}

func TestHandlerErrors(t *testing.T) {
	app := newTestApp(false)
	h := newHarness(t, app)
	h.connect("c1")
	// A failing handler is an invocation error: API Gateway answers it with
	// its Internal server error frame on one-way routes too, which a
	// returned 500 would not get.
	ev := loadEvent(t, "message.json")
	ev.RequestContext.ConnectionID = "c1"
	ev.RequestContext.RouteKey = "fail"
	ev.Body = `{"action":"fail"}`
	payload, _ := json.Marshal(ev)
	if out, err := h.invokeRaw(payload); err == nil {
		t.Fatalf("failing handler answered %s; want an invocation error", out)
	}
	var he *framework.HandlerError
	if _, err := app.Bind(nil).Invoke(context.Background(), &ev); !errors.As(err, &he) || he.RequestID != ev.RequestContext.RequestID {
		t.Fatalf("Invoke of a failing handler: %v; want a *HandlerError with the requestId", err)
	}
	if frames := h.api.framesOf("c1"); len(frames) != 0 {
		t.Fatalf("failing handler posted %q; API Gateway sends the error frame itself", frames)
	}
	resp := h.send("c1", `{"action":"refuse"}`)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("refusing handler: status %d", resp.StatusCode)
	}
	frames := h.api.framesOf("c1")
	if len(frames) != 1 || decodeErrorFrame(t, frames[0]).Message != "room is full" {
		t.Fatalf("refusal frame = %q", frames)
	}
}

func TestConnectReject(t *testing.T) {
	app := framework.New[struct{}]("auth", nil)
	app.OnConnect(func(ctx context.Context, c *framework.Conn[struct{}]) error {
		if c.Event().QueryStringParameters["room"] != "vip" {
			return framework.Reject(http.StatusUnauthorized, "not on the list")
		}
		return nil
	})
	h := newHarness(t, app)
	resp := h.connect("c1")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("$connect = %d, want 401", resp.StatusCode)
	}
	if _, err := h.store.GetConnection(context.Background(), "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rejected connection left a record: %v", err)
	}
}

// TestConcurrentStateUpdates: API Gateway invokes concurrently for one
// connection; no update may be lost.
func TestConcurrentStateUpdates(t *testing.T) {
	app := newTestApp(false)
	h := newHarness(t, app)
	h.connect("c1")
	const n = 40
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if resp := h.send("c1", `{"action":"incr"}`); resp.StatusCode != 200 {
				t.Errorf("incr: %d %s", resp.StatusCode, resp.Body)
			}
		})
	}
	wg.Wait()
	resp := h.send("c1", `{"action":"whoami"}`)
	if resp.Body != fmt.Sprintf(`{"count":%d}`, n) {
		t.Fatalf("after %d concurrent increments state = %s", n, resp.Body)
	}
}

func TestStateSavedOnlyWhenChanged(t *testing.T) {
	app := newTestApp(false)
	h := newHarness(t, app)
	h.connect("c1")
	h.send("c1", `{"action":"nick","nick":"bo"}`)
	st, _ := h.store.LoadState(context.Background(), "c1")
	h.send("c1", `{"action":"nick","nick":"bo"}`)
	h.send("c1", `{"action":"whoami"}`)
	st2, _ := h.store.LoadState(context.Background(), "c1")
	if st.Version != 1 || st2.Version != 1 {
		t.Fatalf("versions %d then %d; an unchanged state must not be written", st.Version, st2.Version)
	}
}

func TestStateTooLarge(t *testing.T) {
	type big struct {
		Blob string `json:"blob"`
	}
	app := framework.New[big]("big", nil)
	framework.Handle(app, "grow", func(ctx context.Context, c *framework.Conn[big], m struct {
		N int `json:"n"`
	}) error {
		err := c.UpdateState(ctx, func(s *big) error { s.Blob = strings.Repeat("x", m.N); return nil })
		if errors.Is(err, store.ErrTooLarge) {
			return framework.NewError(http.StatusRequestEntityTooLarge, "state too large")
		}
		return err
	}, nil)
	h := newHarness(t, app)
	h.connect("c1")
	h.send("c1", `{"action":"grow","n":10}`)
	resp := h.send("c1", `{"action":"grow","n":500000}`)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized state: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := h.send("c1", `{"action":"grow","n":20}`); resp.StatusCode != 200 {
		t.Fatalf("connection unusable after oversized state: %d %s", resp.StatusCode, resp.Body)
	}
	st, _ := h.store.LoadState(context.Background(), "c1")
	if !strings.Contains(string(st.Data), strings.Repeat("x", 20)) {
		t.Fatalf("state = %.40s", st.Data)
	}
}

func TestGroupsAndGone(t *testing.T) {
	app := framework.New[struct{}]("rooms", nil)
	type room struct {
		Room string `json:"room" schema:"minLength=1"`
	}
	type say struct {
		Room string `json:"room"`
		Text string `json:"text"`
	}
	var results []framework.BroadcastResult
	var mu sync.Mutex
	framework.Handle(app, "join", func(ctx context.Context, c *framework.Conn[struct{}], m room) error {
		return c.Join(ctx, m.Room)
	}, nil)
	framework.Handle(app, "say", func(ctx context.Context, c *framework.Conn[struct{}], m say) error {
		res, err := c.BroadcastJSON(ctx, m.Room, map[string]string{"text": m.Text})
		mu.Lock()
		results = append(results, res)
		mu.Unlock()
		return err
	}, nil)
	h := newHarness(t, app)
	for i := range 10 {
		id := fmt.Sprintf("c%d", i)
		h.connect(id)
		h.send(id, `{"action":"join","room":"r"}`)
	}
	for i := range 3 {
		h.api.setGone(fmt.Sprintf("c%d", i+5))
	}
	if resp := h.send("c0", `{"action":"say","room":"r","text":"hello"}`); resp.StatusCode != 200 {
		t.Fatalf("say with gone members: %d %s (gone members must not be an error)", resp.StatusCode, resp.Body)
	}
	if results[0].Sent != 7 || results[0].Gone != 3 {
		t.Fatalf("broadcast result %+v, want 7 sent 3 gone", results[0])
	}
	members, _ := h.store.GroupMembers(context.Background(), "r")
	if len(members) != 7 {
		t.Fatalf("members after cleanup = %d, want 7", len(members))
	}
	for _, id := range []string{"c5", "c6", "c7"} {
		if _, err := h.store.GetConnection(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("gone %s still recorded: %v", id, err)
		}
	}
	if got := h.api.framesOf("c1"); len(got) != 1 || got[0] != `{"text":"hello"}` {
		t.Fatalf("c1 frames = %q", got)
	}
}

func TestMiddlewareOrder(t *testing.T) {
	app := framework.New[struct{}]("mw", nil)
	var trace []string
	var mu sync.Mutex
	mw := func(name string) framework.Middleware {
		return func(next framework.Handler) framework.Handler {
			return func(ctx context.Context, inv *framework.Invocation) error {
				mu.Lock()
				trace = append(trace, name+">"+inv.RouteKey())
				mu.Unlock()
				return next(ctx, inv)
			}
		}
	}
	app.Use(mw("outer"), mw("inner"))
	framework.Handle(app, "ping", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		mu.Lock()
		trace = append(trace, "handler")
		mu.Unlock()
		return nil
	}, nil)
	h := newHarness(t, app)
	h.connect("c1")
	h.send("c1", `{"action":"ping"}`)
	want := "outer>ping,inner>ping,handler"
	if got := strings.Join(trace, ","); got != want {
		t.Fatalf("trace = %s, want %s", got, want)
	}
}

func TestSetupPanics(t *testing.T) {
	tests := []struct {
		name string
		fn   func()
		want string
	}{
		{"duplicate route", func() {
			app := framework.New[struct{}]("x", nil)
			h := func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error { return nil }
			framework.Handle(app, "a", h, nil)
			framework.Handle(app, "a", h, nil)
		}, "declared twice"},
		{"bad expression", func() {
			framework.New[struct{}]("x", &framework.Options{RouteSelectionExpression: "$request.header.x"})
		}, "RouteSelectionExpression"},
		{"reserved key", func() {
			app := framework.New[struct{}]("x", nil)
			framework.Handle(app, "$connect", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error { return nil }, nil)
		}, "OnConnect"},
		{"middleware after route", func() {
			app := framework.New[struct{}]("x", nil)
			framework.Handle(app, "a", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error { return nil }, nil)
			app.Use(func(h framework.Handler) framework.Handler { return h })
		}, "before any route"},
		{"no name", func() { framework.New[struct{}]("", nil) }, "needs a name"},
		{"barrier size", func() {
			app := framework.New[struct{}]("x", nil)
			framework.NewBarrier(app, "b", func(framework.Participant[string], []framework.Participant[string]) any { return nil }, &framework.BarrierOptions{Size: 1})
		}, "at least 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Fatalf("panic %q does not say %q", r, tt.want)
				}
			}()
			tt.fn()
		})
	}
}

func TestTemplateSelectionExpression(t *testing.T) {
	app := framework.New[struct{}]("svc", &framework.Options{RouteSelectionExpression: "${request.body.service}/${request.body.action}"})
	framework.Handle(app, "chat/send", func(ctx context.Context, c *framework.Conn[struct{}], m struct {
		Text string `json:"text"`
	}) error {
		return c.ReplyText(ctx, m.Text)
	}, &framework.RouteOptions{TwoWay: true})
	h := newHarness(t, app)
	h.connect("c1")
	resp := h.send("c1", `{"service":"chat","action":"send","text":"yo"}`)
	if resp.StatusCode != 200 || resp.Body != "yo" {
		t.Fatalf("template route = %d %q", resp.StatusCode, resp.Body)
	}
	// A deployment with only a $default route still routes by the app's own
	// expression.
	ev := loadEvent(t, "message.json")
	ev.RequestContext.ConnectionID = "c1"
	ev.RequestContext.RouteKey = "$default"
	ev.Body = `{"service":"chat","action":"send","text":"self-routed"}`
	if resp := h.invoke(ev); resp.Body != "self-routed" {
		t.Fatalf("self-routing = %d %q", resp.StatusCode, resp.Body)
	}
}
