// Package benchapp is the app that mullet bench loads. Its Lambda main
// (the lambda folder) lets the same app run under mullet dev, e.g. as
// local Lambda instances on dynalite:
//
//	mullet dev -runtime lambda -store dynamodb ./internal/benchapp/lambda
package benchapp

import (
	"context"

	"github.com/mulletgo/mullet/framework"
)

// New declares the app the load generator loads: "echo" answers with a
// route response, "push" answers through @connections, "pair" arrives at a
// barrier of two that refuses (409) an arrival once it has released, and
// "join" and "shout" are a room and its broadcast.
func New() *framework.App[struct{}] {
	type echoMsg struct {
		Data string `json:"data"`
	}
	app := framework.New[struct{}]("bench", nil)
	framework.Handle(app, "echo", func(ctx context.Context, c *framework.Conn[struct{}], m echoMsg) error {
		return c.ReplyText(ctx, m.Data)
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "push", func(ctx context.Context, c *framework.Conn[struct{}], m echoMsg) error {
		return c.ReplyText(ctx, m.Data)
	}, nil)
	type pairMsg struct {
		PairingName string `json:"pairing_name" schema:"minLength=1,maxLength=128"`
	}
	pairs := framework.NewBarrier(app, "pairing", func(_ framework.Participant[string], others []framework.Participant[string]) any {
		return map[string]string{"SourceIP": others[0].Payload}
	}, &framework.BarrierOptions{Size: 2})
	framework.Handle(app, "pair", func(ctx context.Context, c *framework.Conn[struct{}], m pairMsg) error {
		_, err := pairs.Arrive(ctx, c, m.PairingName, c.SourceIP())
		return err
	}, nil)
	type roomMsg struct {
		Room string `json:"room" schema:"minLength=1"`
		Data string `json:"data,omitempty"`
	}
	framework.Handle(app, "join", func(ctx context.Context, c *framework.Conn[struct{}], m roomMsg) error {
		if err := c.Join(ctx, m.Room); err != nil {
			return err
		}
		return c.ReplyText(ctx, "joined")
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "shout", func(ctx context.Context, c *framework.Conn[struct{}], m roomMsg) error {
		_, err := c.BroadcastText(ctx, m.Room, m.Data)
		return err
	}, nil)
	return app
}
