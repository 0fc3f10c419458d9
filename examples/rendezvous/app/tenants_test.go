package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest"
)

// refusal dials with key and returns the refused handshake's status and
// body.
func refusal(t *testing.T, srv *mullettest.Server, key string) (int, string) {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("x-api-key", key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, srv.URL, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		c.CloseNow()
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestAPIKeys: a missing or unknown key is refused with API Gateway's 403
// before the app runs; a valid key connects.
func TestAPIKeys(t *testing.T) {
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys})
	for _, tc := range []struct {
		name, key string
		status    int
		body      string
	}{
		{"missing", "", 403, `{"message":"Forbidden"}`},
		{"unknown", "not-a-tenant-key-0000000", 403, `{"message":"Forbidden"}`},
		{"valid", tenantAKey, 101, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := refusal(t, srv, tc.key); status != tc.status || body != tc.body {
				t.Fatalf("got %d %q; want %d %q", status, body, tc.status, tc.body)
			}
		})
	}
}

// TestTenantsNeverPair: two tenants that use the same pairing name never
// pair with each other; each pairs within its own tenancy.
func TestTenantsNeverPair(t *testing.T) {
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys})
	// Each client has its own source IP, so an answer names its partner.
	as := func(d *mullettest.DialOptions, ip string) *mullettest.Client {
		return srv.Dial(t, &mullettest.DialOptions{Header: d.Header, SourceIP: ip})
	}
	a1, b1 := as(tenantA, "127.0.0.2"), as(tenantB, "127.0.0.4")
	a1.Send(t, `{"action":"pair","pairing_name":"same"}`)
	b1.Send(t, `{"action":"pair","pairing_name":"same"}`)
	time.Sleep(50 * time.Millisecond)
	a2 := as(tenantA, "127.0.0.3")
	a2.Send(t, `{"action":"pair","pairing_name":"same"}`)
	if f := a1.Read(t); f != `{"SourceIP":"127.0.0.3"}` {
		t.Fatalf("a1 got %s; want its own tenant's a2 (127.0.0.3)", f)
	}
	if f := a2.Read(t); f != `{"SourceIP":"127.0.0.2"}` {
		t.Fatalf("a2 got %s; want a1", f)
	}
	// A third arrival of tenant A starts a new pair of A's under the name
	// and waits in it (RestartAfterRelease); tenant B's pairing of the same
	// name still waits for B's second party, and completes with it, not
	// with A's newcomer.
	a3 := as(tenantA, "127.0.0.6")
	a3.Send(t, `{"action":"pair","pairing_name":"same"}`)
	b2 := as(tenantB, "127.0.0.5")
	b2.Send(t, `{"action":"pair","pairing_name":"same"}`)
	if f := b1.Read(t); f != `{"SourceIP":"127.0.0.5"}` {
		t.Fatalf("b1 got %s; want its own tenant's b2 (127.0.0.5)", f)
	}
	if f := b2.Read(t); f != `{"SourceIP":"127.0.0.4"}` {
		t.Fatalf("b2 got %s; want b1", f)
	}
	a3.ExpectSilence(t, 100*time.Millisecond)
}

// TestSpentQuota: a free tenant whose quota is spent gets API Gateway's
// 429 Limit Exceeded on the handshake, while a paid tenant's pairs go on.
func TestSpentQuota(t *testing.T) {
	plans := app.Plans()
	for i := range plans {
		if plans[i].Name == app.FreePlanName {
			plans[i].Quota = &framework.Quota{Limit: 2, Period: "DAY"}
		}
	}
	srv := mullettest.NewServer(t, app.NewWithPlans(2, plans), &mullettest.Options{APIKeys: testKeys})
	free := &mullettest.DialOptions{Header: http.Header{"X-Api-Key": {freeKey}}}
	f1, f2 := srv.Dial(t, free), srv.Dial(t, free)
	var he *mullettest.HandshakeError
	if _, err := srv.DialErr(context.Background(), free); !errors.As(err, &he) || he.Status != http.StatusTooManyRequests {
		t.Fatalf("third connection of a free tenant with a quota of 2: %v; want 429", err)
	}
	if status, body := refusal(t, srv, freeKey); status != 429 || body != `{"message":"Limit Exceeded"}` {
		t.Fatalf("spent quota answered %d %q", status, body)
	}
	// The free tenant's two connections still pair; the paid tenant pairs
	// as often as it likes.
	f1.Send(t, `{"action":"pair","pairing_name":"f"}`)
	f2.Send(t, `{"action":"pair","pairing_name":"f"}`)
	for _, c := range []*mullettest.Client{f1, f2} {
		if f := c.Read(t); !strings.Contains(f, `"SourceIP"`) {
			t.Fatalf("free tenant got %s", f)
		}
	}
	for i := range 3 {
		a, b := srv.Dial(t, tenantA), srv.Dial(t, tenantA)
		name := `{"action":"pair","pairing_name":"paid-` + string(rune('a'+i)) + `"}`
		a.Send(t, name)
		b.Send(t, name)
		for _, c := range []*mullettest.Client{a, b} {
			if f := c.Read(t); !strings.Contains(f, `"SourceIP"`) {
				t.Fatalf("paid tenant got %s", f)
			}
		}
	}
}
