package framework_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/mulletgo/mullet/framework"
)

// TestStateAPIIsOwnStateOnly: the only methods of Conn that read or write
// state are State and UpdateState, and neither takes anything that could
// name another connection. Everything that takes a connection ID (Send,
// Close, Info) goes through @connections and never touches state. A method
// added to Conn or Invocation that mentions the state type fails this test
// until it is reviewed here.
func TestStateAPIIsOwnStateOnly(t *testing.T) {
	stateType := reflect.TypeFor[profile]()
	mentionsState := func(tp reflect.Type) bool {
		seen := map[reflect.Type]bool{}
		var walk func(reflect.Type) bool
		walk = func(tp reflect.Type) bool {
			if tp == stateType {
				return true
			}
			if seen[tp] {
				return false
			}
			seen[tp] = true
			switch tp.Kind() {
			case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
				return walk(tp.Elem())
			case reflect.Map:
				return walk(tp.Key()) || walk(tp.Elem())
			case reflect.Func:
				for i := 0; i < tp.NumIn(); i++ {
					if walk(tp.In(i)) {
						return true
					}
				}
				for i := 0; i < tp.NumOut(); i++ {
					if walk(tp.Out(i)) {
						return true
					}
				}
			}
			return false
		}
		return walk(tp)
	}
	connType := reflect.TypeFor[*framework.Conn[profile]]()
	var stateMethods []string
	for i := 0; i < connType.NumMethod(); i++ {
		m := connType.Method(i)
		if !mentionsState(m.Type) {
			continue
		}
		stateMethods = append(stateMethods, m.Name)
		for j := 1; j < m.Type.NumIn(); j++ { // In(0) is the receiver
			in := m.Type.In(j)
			if in == reflect.TypeFor[context.Context]() {
				continue
			}
			switch in.Kind() {
			case reflect.String, reflect.Interface, reflect.Slice:
				t.Errorf("Conn.%s takes a %s: a state method must not accept anything that could name another connection", m.Name, in)
			}
		}
	}
	if strings.Join(stateMethods, ",") != "State,UpdateState" {
		t.Errorf("methods of Conn that touch state: %v, want exactly State and UpdateState", stateMethods)
	}
	// Invocation, which middleware sees, has no access to state at all.
	invType := reflect.TypeFor[*framework.Invocation]()
	for i := 0; i < invType.NumMethod(); i++ {
		if name := invType.Method(i).Name; strings.Contains(strings.ToLower(name), "state") {
			t.Errorf("Invocation.%s: middleware must not reach state", name)
		}
	}
}

// TestStateIsolation: two connections update their own state
// concurrently while one of them tries every way the API offers to reach
// the other's: frames naming the other connection, pushes to it, and a
// middleware that rewrites the event's connection ID. Each ends with
// exactly its own updates.
func TestStateIsolation(t *testing.T) {
	app := framework.New[profile]("iso", nil)
	app.Use(func(next framework.Handler) framework.Handler {
		return func(ctx context.Context, inv *framework.Invocation) error {
			// A careless middleware: the event says "do not modify it".
			// State must still be the caller's own.
			if inv.RouteKey() == "incr" {
				ev := inv.Event()
				var m struct {
					As string `json:"as"`
				}
				if json.Unmarshal(inv.Body(), &m) == nil && m.As != "" {
					ev.RequestContext.ConnectionID = m.As
				}
			}
			return next(ctx, inv)
		}
	})
	framework.Handle(app, "incr", func(ctx context.Context, c *framework.Conn[profile], _ struct {
		As string `json:"as,omitempty"`
	}) error {
		return c.UpdateState(ctx, func(p *profile) error { p.Count++; return nil })
	}, nil)
	framework.Handle(app, "poke", func(ctx context.Context, c *framework.Conn[profile], m struct {
		To string `json:"to"`
	}) error {
		return c.SendText(ctx, m.To, `{"count":1000}`)
	}, nil)
	framework.Handle(app, "whoami", func(ctx context.Context, c *framework.Conn[profile], _ struct{}) error {
		p, err := c.State(ctx)
		if err != nil {
			return err
		}
		return c.ReplyJSON(ctx, p)
	}, &framework.RouteOptions{TwoWay: true})
	h := newHarness(t, app)
	h.connect("alice")
	h.connect("bob")

	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { h.send("bob", `{"action":"incr"}`) })
		wg.Go(func() {
			switch i % 4 {
			case 0:
				h.send("alice", `{"action":"incr"}`)
			case 1:
				// Names bob in the frame and, through the middleware, in
				// the event.
				h.send("alice", `{"action":"incr","as":"bob"}`)
			case 2:
				// An undeclared field is refused before any handler.
				if resp := h.send("alice", `{"action":"incr","connectionId":"bob"}`); resp.StatusCode != 400 {
					t.Errorf("frame with connectionId: %d", resp.StatusCode)
				}
				h.send("alice", `{"action":"incr"}`)
			case 3:
				h.send("alice", `{"action":"poke","to":"bob"}`)
				h.send("alice", `{"action":"incr"}`)
			}
		})
	}
	wg.Wait()
	for _, id := range []string{"alice", "bob"} {
		var p profile
		resp := h.send(id, `{"action":"whoami"}`)
		if err := json.Unmarshal([]byte(resp.Body), &p); err != nil || p.Count != n {
			t.Errorf("%s: state %s (%v), want count %d: only its own updates", id, resp.Body, err, n)
		}
	}
	if pushes := h.api.framesOf("bob"); len(pushes) != n/4 {
		t.Errorf("bob got %d pushes, want %d", len(pushes), n/4)
	}
}
