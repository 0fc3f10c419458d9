package framework_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/framework"
)

// TestArrivalSaysWaitingOrReleased: Arrive takes the handler's *Conn and
// reports whether the caller waits (and how many have arrived) or released
// the party, so that the app can answer "waiting 1/3".
func TestArrivalSaysWaitingOrReleased(t *testing.T) {
	app := framework.New[struct{}]("party", nil)
	b := framework.NewBarrier(app, "party", func(to framework.Participant[string], others []framework.Participant[string]) any {
		return "go " + to.Payload
	}, &framework.BarrierOptions{Size: 3})
	var arrivals []framework.Arrival
	framework.Handle(app, "arrive", func(ctx context.Context, c *framework.Conn[struct{}], m pairMsg) error {
		a, err := b.Arrive(ctx, c, m.Key, c.ConnectionID())
		if err != nil {
			return err
		}
		arrivals = append(arrivals, a)
		if a.Released {
			return nil
		}
		return c.ReplyText(ctx, fmt.Sprintf("waiting %d/%d", a.Arrived, a.Size))
	}, nil)
	h := newHarness(t, app)
	for _, id := range []string{"a", "b", "c"} {
		h.connect(id)
		h.send(id, `{"action":"arrive","key":"k"}`)
	}
	want := []framework.Arrival{{Arrived: 1, Size: 3}, {Arrived: 2, Size: 3}, {Released: true, Arrived: 3, Size: 3}}
	if !reflect.DeepEqual(arrivals, want) {
		t.Errorf("arrivals %+v, want %+v", arrivals, want)
	}
	for id, frames := range map[string]string{"a": `waiting 1/3|"go a"`, "b": `waiting 2/3|"go b"`, "c": `"go c"`} {
		if got := strings.Join(h.api.framesOf(id), "|"); got != frames {
			t.Errorf("%s got %s, want %s", id, got, frames)
		}
	}
}

// TestSecondReplyIsAnError: an invocation replies once, on one-way and
// two-way routes alike; the second reply sends nothing and matches
// ErrAlreadyReplied.
func TestSecondReplyIsAnError(t *testing.T) {
	app := framework.New[struct{}]("replies", nil)
	var errs []error
	twice := func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		if err := c.ReplyText(ctx, "first"); err != nil {
			return err
		}
		err := c.ReplyJSON(ctx, "second")
		errs = append(errs, err)
		return nil
	}
	framework.Handle(app, "oneway", twice, nil)
	framework.Handle(app, "twoway", twice, &framework.RouteOptions{TwoWay: true})
	h := newHarness(t, app)
	h.connect("a")
	h.send("a", `{"action":"oneway"}`)
	if resp := h.send("a", `{"action":"twoway"}`); resp.Body != "first" {
		t.Errorf("two-way route response %q, want first", resp.Body)
	}
	if got := strings.Join(h.api.framesOf("a"), "|"); got != "first" {
		t.Errorf("frames posted %q, want only the first reply", got)
	}
	for i, err := range errs {
		if !errors.Is(err, framework.ErrAlreadyReplied) {
			t.Errorf("second reply %d: %v, want ErrAlreadyReplied", i, err)
		}
	}
	if len(errs) != 2 {
		t.Fatalf("%d second replies, want 2", len(errs))
	}
}

// TestEncodingIsExplicit: text goes out as it is and values as JSON,
// whatever their Go type: the caller chooses by the call.
func TestEncodingIsExplicit(t *testing.T) {
	type Nick string
	type Frame []byte
	app := framework.New[struct{}]("enc", nil)
	framework.Handle(app, "go", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		nick, frame := Nick("ann"), Frame("raw bytes")
		id := c.ConnectionID()
		for _, err := range []error{
			c.SendText(ctx, id, string(nick)),
			c.SendJSON(ctx, id, nick),
			c.SendText(ctx, id, string(frame)),
			c.SendJSON(ctx, id, frame),
			c.SendJSON(ctx, id, map[string]Nick{"nick": nick}),
		} {
			if err != nil {
				return err
			}
		}
		if _, err := c.BroadcastText(ctx, "nobody", "x"); err != nil {
			return err
		}
		return c.ReplyText(ctx, `{"already":"json"}`)
	}, nil)
	h := newHarness(t, app)
	h.connect("a")
	h.send("a", `{"action":"go"}`)
	want := []string{`ann`, `"ann"`, `raw bytes`, `"cmF3IGJ5dGVz"`, `{"nick":"ann"}`, `{"already":"json"}`}
	if got := h.api.framesOf("a"); !reflect.DeepEqual(got, want) {
		t.Errorf("frames\n got %q\nwant %q", got, want)
	}
}

// TestConnDocumentsEveryInvocationMethod: Conn defines every method of
// Invocation itself, so that `go doc Conn` lists them all.
func TestConnDocumentsEveryInvocationMethod(t *testing.T) {
	conn := reflect.TypeFor[*framework.Conn[struct{}]]()
	inv := reflect.TypeFor[*framework.Invocation]()
	for i := 0; i < inv.NumMethod(); i++ {
		m := inv.Method(i)
		cm, ok := conn.MethodByName(m.Name)
		if !ok {
			t.Errorf("Conn has no method %s", m.Name)
			continue
		}
		// Same parameters, after the receiver.
		if cm.Type.NumIn() != m.Type.NumIn() || cm.Type.NumOut() != m.Type.NumOut() {
			t.Errorf("Conn.%s has another signature than Invocation.%s", m.Name, m.Name)
		}
	}
	if f, ok := conn.Elem().FieldByName("Invocation"); ok && f.Anonymous {
		t.Errorf("Conn embeds Invocation: its methods would be promoted, and go doc Conn would hide them")
	}
}

// TestHandlerPanicNamesTheAppFrame: a handler's panic is panicked again as
// a *PanicError whose text starts with the route and the value, then the
// handler's file and line, with the framework's and the Go runtime's frames
// left out.
func TestHandlerPanicNamesTheAppFrame(t *testing.T) {
	app := framework.New[struct{}]("panics", nil)
	var line int
	framework.Handle(app, "boom", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		var m map[string]int
		_, _, line, _ = runtime.Caller(0)
		m["x"] = 1 // the line after runtime.Caller
		return nil
	}, nil)
	inv := app.Bind(nil)
	ev := loadEvent(t, "message.json")
	ev.RequestContext.RouteKey = "boom"
	ev.Body = `{"action":"boom"}`
	p := recoverInvoke(inv, &ev)
	pe, ok := p.(*framework.PanicError)
	if !ok {
		t.Fatalf("panicked with %T %v, want a *framework.PanicError", p, p)
	}
	var re runtime.Error
	if !errors.As(pe, &re) {
		t.Errorf("the PanicError does not unwrap to the runtime.Error")
	}
	if len(pe.AppFrames) == 0 {
		t.Fatalf("no app frames in\n%s", pe.Stack)
	}
	top := pe.AppFrames[0]
	if !strings.HasSuffix(top.File, "framework/api_test.go") || top.Line != line+1 {
		t.Errorf("innermost app frame %s:%d, want api_test.go:%d", top.File, top.Line, line+1)
	}
	for _, f := range pe.AppFrames {
		if strings.HasPrefix(f.Function, "runtime.") || strings.HasPrefix(f.Function, "github.com/mulletgo/mullet/framework.") {
			t.Errorf("app frames include %s", f.Function)
		}
	}
	msg := pe.Error()
	first, rest, _ := strings.Cut(msg, "\n")
	if first != `the handler of route "boom" panicked: assignment to entry in nil map` {
		t.Errorf("first line %q", first)
	}
	if !strings.Contains(rest, "api_test.go:"+strconv.Itoa(line+1)) || !strings.Contains(rest, "frames of mullet and the Go runtime") {
		t.Errorf("stack lines:\n%s", rest)
	}
}

func recoverInvoke(inv framework.Invoker, ev *events.APIGatewayWebsocketProxyRequest) (p any) {
	defer func() { p = recover() }()
	inv.Invoke(context.Background(), ev)
	return nil
}
