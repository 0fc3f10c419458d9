// Package app declares the NAT-punch rendezvous service: two clients send
// the same pairing name, and each learns the other's source IP as soon as
// both are there. A peer-to-peer client (package peer) also sends its UDP
// ports and key fingerprint, learns the peer's, and may relay packets
// through the service when no direct path exists.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/mulletgo/mullet/framework"
)

// Pair is the frame a client sends: {"action":"pair","pairing_name":"..."}.
// Ports and Fingerprint are opt-in: a client that sends neither gets the
// original answer, {"SourceIP":"..."}, and nothing else.
type Pair struct {
	PairingName string `json:"pairing_name" schema:"minLength=1,maxLength=128,pattern=^[A-Za-z0-9_.:-]+$"`
	Ports       []int  `json:"ports,omitempty" schema:"maxItems=8,minimum=1,maximum=65535"`
	Fingerprint string `json:"fingerprint,omitempty" schema:"pattern=^[0-9a-f]{64}$"`
}

// Answer is the frame each side receives: the other side's source IP,
// always first; to a client that sent a fingerprint, also the other side's
// ports, fingerprint and connection ID (the address for Relay).
type Answer struct {
	SourceIP     string `json:"SourceIP"`
	Ports        []int  `json:"Ports,omitempty"`
	Fingerprint  string `json:"Fingerprint,omitempty"`
	ConnectionID string `json:"ConnectionID,omitempty"`
}

// Arrival is what the barrier keeps of each participant.
type Arrival struct {
	SourceIP    string
	Ports       []int  `json:",omitempty"`
	Fingerprint string `json:",omitempty"`
}

// UnmarshalJSON also reads the bare source IP string that earlier versions
// stored, so that a deploy does not strand barriers in flight.
func (a *Arrival) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		*a = Arrival{}
		return json.Unmarshal(data, &a.SourceIP)
	}
	type plain Arrival
	return json.Unmarshal(data, (*plain)(a))
}

// Relay is the frame that carries opaque data to another connection:
// {"action":"relay","to":"<connection id>","data":"<base64>"}.
type Relay struct {
	To   string `json:"to" schema:"minLength=1,maxLength=128"`
	Data string `json:"data" schema:"maxLength=32768"`
}

// Relayed is what the addressee of a Relay frame receives.
type Relayed struct {
	From string `json:"From"`
	Data string `json:"Data"`
}

// The usage plans tenants' API keys belong to, by name.
const (
	FreePlanName = "free"
	PaidPlanName = "paid"
)

// Plans returns the usage plans New declares. A key's plan counts
// connections ($connect), one per pairing attempt of a client:
//   - free: 5 connections a second (bursts of 10), 1,000 a day;
//   - paid: 1,000 a second (bursts of 2,000), no quota: bounded in
//     practice by the account's 500 new connections a second.
func Plans() []framework.UsagePlan {
	return []framework.UsagePlan{
		{Name: FreePlanName, Throttle: &framework.Throttle{RatePerSecond: 5, Burst: 10}, Quota: &framework.Quota{Limit: 1000, Period: "DAY"}},
		{Name: PaidPlanName, Throttle: &framework.Throttle{RatePerSecond: 1000, Burst: 2000}},
	}
}

// New declares the rendezvous app with parties of size n (2 for NAT punching).
// Every client sends an API key (x-api-key) on $connect, as the original
// service's clients did; a key is a tenant, in the free or the paid plan.
// Pairing names are per tenant: two tenants that use the same name never
// meet.
func New(n int) *framework.App[struct{}] {
	return NewWithPlans(n, Plans())
}

// NewWithPlans is New with other usage plans (a deployment's own tiers, or
// a test's small quota).
func NewWithPlans(n int, plans []framework.UsagePlan) *framework.App[struct{}] {
	app := framework.New[struct{}]("rendezvous", nil)
	app.RequireAPIKeys(&framework.APIKeyOptions{Plans: plans})
	pairs := framework.NewBarrier(app, "pairing", func(to framework.Participant[Arrival], others []framework.Participant[Arrival]) any {
		if len(others) == 1 {
			other := others[0]
			a := Answer{SourceIP: other.Payload.SourceIP}
			if to.Payload.Fingerprint != "" {
				a.Ports, a.Fingerprint, a.ConnectionID = other.Payload.Ports, other.Payload.Fingerprint, other.ConnectionID
			}
			return a
		}
		ips := make([]string, len(others))
		for i, p := range others {
			ips[i] = p.Payload.SourceIP
		}
		return map[string][]string{"SourceIPs": ips}
	}, &framework.BarrierOptions{Size: n, TTL: 10 * time.Minute, RestartAfterRelease: true})
	framework.Handle(app, "pair", func(ctx context.Context, c *framework.Conn[struct{}], m Pair) error {
		// The tenant is the caller's API key, which only $connect's event
		// names: reading it back costs one read of the connection record.
		id, err := c.Identity(ctx)
		if err != nil {
			return err
		}
		_, err = pairs.Arrive(ctx, c, TenantKey(id.APIKeyID, m.PairingName), Arrival{c.SourceIP(), m.Ports, m.Fingerprint})
		return err
	}, nil)
	framework.Handle(app, "relay", func(ctx context.Context, c *framework.Conn[struct{}], m Relay) error {
		err := c.SendJSON(ctx, m.To, Relayed{From: c.ConnectionID(), Data: m.Data})
		if errors.Is(err, framework.ErrGone) {
			return framework.NewError(http.StatusGone, "connection %s is gone", m.To)
		}
		return err
	}, nil)
	return app
}

// TenantKey is the barrier key of a tenant's pairing name: the tenant's API
// key ID, then the name. '/' never occurs in either (pairing names are
// letters, digits and "_.:-"), so no tenant can name another's pairing.
func TenantKey(apiKeyID, pairingName string) string {
	return apiKeyID + "/" + pairingName
}
