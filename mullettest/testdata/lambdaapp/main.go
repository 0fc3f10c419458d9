// Command lambdaapp is the test app of mullettest's Lambda mode: a mullet
// app whose routes misbehave on request.
package main

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/framework"
)

// State counts a connection's "count" frames, across instances.
type State struct {
	N int `json:"n"`
}

// Sleep asks the handler to take Ms milliseconds.
type Sleep struct {
	Ms int `json:"ms" schema:"minimum=0,maximum=60000"`
}

func main() {
	app := framework.New[State]("lambdaapp", nil)
	framework.Handle(app, "pid", func(ctx context.Context, c *framework.Conn[State], _ struct{}) error {
		return c.ReplyText(ctx, strconv.Itoa(os.Getpid()))
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "count", func(ctx context.Context, c *framework.Conn[State], _ struct{}) error {
		var n int
		if err := c.UpdateState(ctx, func(s *State) error { s.N++; n = s.N; return nil }); err != nil {
			return err
		}
		return c.ReplyText(ctx, strconv.Itoa(n))
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "sleep", func(ctx context.Context, c *framework.Conn[State], s Sleep) error {
		time.Sleep(time.Duration(s.Ms) * time.Millisecond)
		return c.ReplyText(ctx, strconv.Itoa(os.Getpid()))
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "panic", func(ctx context.Context, c *framework.Conn[State], _ struct{}) error {
		panic("handler panicked on purpose")
	}, &framework.RouteOptions{TwoWay: true})
	mullet.Main(app)
}
