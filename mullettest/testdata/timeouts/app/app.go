// Package app declares a small app whose barrier tells its waiting
// participants when it times out, for the end-to-end timeout tests.
package app

import (
	"context"
	"time"

	"github.com/mulletgo/mullet/framework"
)

// Arrive is the frame a client sends: {"action":"arrive","key":"..."}.
type Arrive struct {
	Key string `json:"key" schema:"minLength=1"`
}

// TTL is how long a barrier waits for its pair.
const TTL = time.Second

// New declares the app: pairs meet under a key; a client left alone for
// TTL gets {"timedOut":"<key>"}, and a pair gets {"peer":"<other's id>"}.
func New() *framework.App[struct{}] {
	app := framework.New[struct{}]("timeouts", nil)
	pairs := framework.NewBarrier(app, "pair", func(to framework.Participant[string], others []framework.Participant[string]) any {
		return map[string]string{"peer": others[0].ConnectionID}
	}, &framework.BarrierOptions{Size: 2, TTL: TTL}).OnTimeout(func(to framework.Participant[string]) any {
		return map[string]string{"timedOut": to.Payload}
	})
	framework.Handle(app, "arrive", func(ctx context.Context, c *framework.Conn[struct{}], m Arrive) error {
		_, err := pairs.Arrive(ctx, c, m.Key, m.Key)
		return err
	}, nil)
	return app
}
