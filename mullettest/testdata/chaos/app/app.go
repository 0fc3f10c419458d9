// Package app is the chaos test's app: sessions, and durable rooms with a
// window larger than the test.
package app

import (
	"context"
	"errors"
	"time"

	"github.com/mulletgo/mullet/framework"
)

// Room names a room to join.
type Room struct {
	Room string `json:"room" schema:"minLength=1"`
}

// Say is a message for a room.
type Say struct {
	Room string `json:"room" schema:"minLength=1"`
	Text string `json:"text"`
}

// Window is the rooms' window: larger than any chaos run.
const Window = 100000

// New returns the chaos app.
func New() *framework.App[struct{}] {
	app := framework.New[struct{}]("chaos", &framework.Options{Sessions: &framework.SessionOptions{TTL: time.Minute}})
	app.Groups("room", &framework.GroupOptions{Durable: true, Window: Window, WindowTTL: time.Hour})
	framework.Handle(app, "join", func(ctx context.Context, c *framework.Conn[struct{}], m Room) error {
		if err := c.Join(ctx, m.Room); err != nil {
			return err
		}
		return c.ReplyJSON(ctx, map[string]string{"joined": m.Room})
	}, nil)
	framework.Handle(app, "say", func(ctx context.Context, c *framework.Conn[struct{}], m Say) error {
		// The answer releases the sender's window, even when some pushes
		// failed (their receivers sync). A sender cut meanwhile (410)
		// is no failure: it sends on another connection.
		res, err := c.BroadcastText(ctx, m.Room, m.Text)
		if rerr := c.ReplyJSON(ctx, map[string]int64{"offset": res.Position.Offset}); err == nil && !errors.Is(rerr, framework.ErrGone) {
			err = rerr
		}
		return err
	}, nil)
	return app
}
