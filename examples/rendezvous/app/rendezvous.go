// Package app declares the NAT-punch rendezvous service: two clients send
// the same pairing name, and each learns the other's source IP as soon as
// both are there.
package app

import (
	"context"
	"time"

	"github.com/mulletgo/mullet/framework"
)

// Pair is the one frame a client sends: {"action":"pair","pairing_name":"..."}.
type Pair struct {
	PairingName string `json:"pairing_name" schema:"minLength=1,maxLength=128,pattern=^[A-Za-z0-9_.:-]+$"`
}

// Answer is the one frame each side receives: the other side's source IP.
type Answer struct {
	SourceIP string `json:"SourceIP"`
}

// New declares the rendezvous app with parties of size n (2 for NAT punching).
func New(n int) *framework.App[struct{}] {
	app := framework.New[struct{}]("rendezvous", nil)
	pairs := framework.NewBarrier(app, "pairing", func(to framework.Participant[string], others []framework.Participant[string]) any {
		if len(others) == 1 {
			return Answer{SourceIP: others[0].Payload}
		}
		ips := make([]string, len(others))
		for i, p := range others {
			ips[i] = p.Payload
		}
		return map[string][]string{"SourceIPs": ips}
	}, &framework.BarrierOptions{Size: n, TTL: 10 * time.Minute})
	framework.Handle(app, "pair", func(ctx context.Context, c *framework.Conn[struct{}], m Pair) error {
		_, err := pairs.Arrive(ctx, c, m.PairingName, c.SourceIP())
		return err
	}, nil)
	return app
}
