package mullettest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest"
)

// fatalTB records the first Fatal of a helper under test instead of
// failing the test; run the helper with catchFatal.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatal(args ...any) { f.msg = fmt.Sprint(args...); panic(f) }
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

// catchFatal runs fn with a fatalTB and returns the message of its Fatal,
// "" if it returned normally.
func catchFatal(t *testing.T, fn func(tb testing.TB)) (msg string) {
	t.Helper()
	f := &fatalTB{TB: t}
	defer func() {
		if p := recover(); p != nil {
			if p != f {
				panic(p)
			}
			msg = f.msg
		}
	}()
	fn(f)
	return ""
}

type who struct {
	User     string `json:"user"`
	Room     string `json:"room"`
	SourceIP string `json:"sourceIp"`
}

type nickFrame struct {
	Nick string `json:"nick" schema:"minLength=1,maxLength=8"`
	Room string `json:"room" schema:"pattern=^[a-z]+$"`
}

func dialApp() *framework.App[struct{}] {
	app := framework.New[struct{}]("dial", nil)
	app.Authorize(func(ctx context.Context, req *framework.ConnectRequest) (framework.AuthContext, error) {
		if req.Header.Get("Authorization") != "Bearer ann" {
			return nil, framework.Reject(http.StatusUnauthorized, "who are you?")
		}
		return framework.AuthContext{"user": "ann", "room": req.Query.Get("room")}, nil
	}, nil)
	framework.Handle(app, "who", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		ac, err := c.AuthContext(ctx)
		if err != nil {
			return err
		}
		return c.ReplyJSON(ctx, who{User: ac["user"].(string), Room: ac["room"].(string), SourceIP: c.SourceIP()})
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "nick", func(ctx context.Context, c *framework.Conn[struct{}], m nickFrame) error {
		return c.ReplyJSON(ctx, m)
	}, &framework.RouteOptions{TwoWay: true})
	return app
}

// TestDialOptions: headers and a query string reach the authorizer, and
// the app sees the source IP the client bound to.
func TestDialOptions(t *testing.T) {
	srv := mullettest.NewServer(t, dialApp(), nil)
	c := srv.Dial(t, &mullettest.DialOptions{
		Header:   http.Header{"Authorization": {"Bearer ann"}},
		Query:    url.Values{"room": {"lobby"}},
		SourceIP: "127.0.0.7",
	})
	c.Send(t, `{"action":"who"}`)
	var got who
	c.ReadJSON(t, &got)
	if want := (who{User: "ann", Room: "lobby", SourceIP: "127.0.0.7"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	_, err := srv.DialErr(context.Background(), nil)
	var he *mullettest.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Errorf("dial without the header: %v, want a 401 HandshakeError", err)
	}
	if _, err := srv.DialErr(context.Background(), &mullettest.DialOptions{SourceIP: "10.0.0.1"}); err == nil || !strings.Contains(err.Error(), "use a loopback address") {
		t.Errorf("dial from a non-loopback source IP: %v", err)
	}
}

// TestReadJSONSaysWhy: when a test's frame fails its schema, ReadJSON fails
// with the route and every violation, not a decoded zero value.
func TestReadJSONSaysWhy(t *testing.T) {
	srv := mullettest.NewServer(t, dialApp(), nil)
	c := srv.Dial(t, &mullettest.DialOptions{Header: http.Header{"Authorization": {"Bearer ann"}}})
	c.Send(t, `{"action":"nick","nick":"","room":"Lobby"}`)
	msg := catchFatal(t, func(tb testing.TB) {
		var v nickFrame
		c.ReadJSON(tb, &v)
	})
	for _, want := range []string{
		`ReadJSON into *mullettest_test.nickFrame: got API Gateway's "Invalid request body" error frame`,
		`why: route "nick": the frame fails its model: /nick: minLength: length must be >= 1, but got 0; /room: pattern: does not match pattern '^[a-z]+$'`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("ReadJSON failed with\n%s\nwhich does not say\n%s", msg, want)
		}
	}
	c.Send(t, `{"action":"shout"}`)
	msg = catchFatal(t, func(tb testing.TB) {
		var v nickFrame
		c.ReadJSON(tb, &v)
	})
	if !strings.Contains(msg, `"Forbidden" error frame`) || !strings.Contains(msg, `why: no route "shout" and no $default route; routes: nick, who`) {
		t.Errorf("ReadJSON failed with\n%s", msg)
	}
}

// TestReadTimeoutSaysWhatWasAwaited: a read that times out says how long
// it waited and after which frame.
func TestReadTimeoutSaysWhatWasAwaited(t *testing.T) {
	srv := mullettest.NewServer(t, dialApp(), nil)
	c := srv.Dial(t, &mullettest.DialOptions{Header: http.Header{"Authorization": {"Bearer ann"}}})
	_, err := c.ReadTimeout(50 * time.Millisecond)
	var te *mullettest.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || err.Error() != "no frame arrived within 50ms, and the client has sent none" {
		t.Errorf("got %v", err)
	}
	c = srv.Dial(t, &mullettest.DialOptions{Header: http.Header{"Authorization": {"Bearer ann"}}})
	c.Send(t, `{"action":"nothing"}`) // matches no route: refused, and the answer comes
	c.Read(t)
	c.Send(t, `{"action":"nick","nick":"ann","room":"x"}`)
	c.Read(t)
	c.Send(t, `"not an action"`)
	c.Read(t)
	msg := catchFatal(t, func(tb testing.TB) { c.Read(tb) })
	if want := `mullettest: Read: no frame arrived within 5s after the client sent "not an action"`; msg != want {
		t.Errorf("Read failed with %q, want %q", msg, want)
	}
}

// TestNewServerNilApp: no app is a clear test failure, not a crash of the
// test binary.
func TestNewServerNilApp(t *testing.T) {
	msg := catchFatal(t, func(tb testing.TB) { mullettest.NewServer(tb, nil, nil) })
	if !strings.Contains(msg, "mullettest: NewServer(t, nil, ...): give the app to serve") {
		t.Errorf("NewServer(t, nil, nil) failed with %q", msg)
	}
}
