package framework_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest"
)

type said struct {
	From string `json:"from"`
	Text string `json:"text"`
}

type sayMsg struct {
	Text  string `json:"text"`
	Wrong bool   `json:"wrong,omitempty"`
}

// outboundApp declares its replies and broadcasts, and sends the wrong
// type when asked to.
func outboundApp(errs chan<- error) *framework.App[struct{}] {
	app := framework.New[struct{}]("outbound", nil)
	framework.Publishes[said](app, "room:")
	report := func(err error) error {
		if err != nil {
			errs <- err
		}
		return nil
	}
	framework.Handle(app, "say", func(ctx context.Context, c *framework.Conn[struct{}], m sayMsg) error {
		if m.Wrong {
			return report(c.ReplyJSON(ctx, map[string]int{"count": 1}))
		}
		return report(c.ReplyJSON(ctx, said{From: "me", Text: m.Text}))
	}, &framework.RouteOptions{TwoWay: true, Replies: said{}})
	framework.Handle(app, "shout", func(ctx context.Context, c *framework.Conn[struct{}], m sayMsg) error {
		if err := c.Join(ctx, "room:1"); err != nil {
			return err
		}
		if m.Wrong {
			_, err := c.BroadcastText(ctx, "room:1", "not JSON")
			return report(err)
		}
		_, err := c.BroadcastJSON(ctx, "room:1", said{From: "me", Text: m.Text})
		return report(err)
	}, nil)
	return app
}

func TestOutboundManifest(t *testing.T) {
	m := outboundApp(nil).Manifest()
	r, _ := m.Route("say")
	if r.Replies == nil || r.Replies.Name != "said" || !strings.Contains(string(r.Replies.Schema), `"from"`) {
		t.Fatalf("route replies: %+v", r.Replies)
	}
	if msg, ok := m.PushFor("room:9"); !ok || msg.Name != "said" {
		t.Fatalf("pushes: %+v", m.Pushes)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestOutboundCheckedInDevelopment(t *testing.T) {
	errs := make(chan error, 4)
	srv := mullettest.NewServer(t, outboundApp(errs), nil)
	c := srv.Dial(t, nil)

	c.Send(t, `{"action":"say","text":"hi"}`)
	if got := c.Read(t); got != `{"from":"me","text":"hi"}` {
		t.Fatalf("reply = %s", got)
	}
	c.Send(t, `{"action":"shout","text":"all"}`)
	if got := c.Read(t); got != `{"from":"me","text":"all"}` {
		t.Fatalf("broadcast = %s", got)
	}

	c.Send(t, `{"action":"say","text":"hi","wrong":true}`)
	var oe *framework.OutboundError
	if err := <-errs; !errors.As(err, &oe) || oe.Route != "say" || oe.Type != "said" {
		t.Fatalf("wrong reply: err = %v, want an *OutboundError for route say", err)
	}
	c.Send(t, `{"action":"shout","text":"x","wrong":true}`)
	if err := <-errs; !errors.As(err, &oe) || oe.Group != "room:1" || !strings.Contains(err.Error(), "Publishes") {
		t.Fatalf("wrong broadcast: err = %v, want an *OutboundError for group room:1", err)
	}
	c.ExpectSilence(t, 200e6) // neither wrong frame was sent
}

func TestOutboundUncheckedByDefault(t *testing.T) {
	errs := make(chan error, 1)
	inv := outboundApp(errs).Bind(&framework.Runtime{})
	ev := loadEvent(t, "message.json")
	ev.Body = `{"action":"say","text":"x","wrong":true}`
	ev.RequestContext.RouteKey = "say"
	resp, err := inv.Invoke(context.Background(), &ev)
	if err != nil || resp.Body != `{"count":1}` {
		t.Fatalf("unchecked runtime: %v %q", err, resp.Body)
	}
	select {
	case err := <-errs:
		t.Fatalf("reply refused without CheckOutbound: %v", err)
	default:
	}
}

func TestPublishesPanics(t *testing.T) {
	app := framework.New[struct{}]("p", nil)
	framework.Publishes[said](app, "a")
	for name, fn := range map[string]func(){
		"twice":    func() { framework.Publishes[said](app, "a") },
		"reserved": func() { framework.Publishes[said](app, "$session") },
		"unnamed":  func() { framework.Publishes[map[string]string](app, "b") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			fn()
		})
	}
}
