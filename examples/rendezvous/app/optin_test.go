package app_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/mullettest"
)

// TestOriginalClientView: the peer-to-peer fields are opt-in. A client
// that pairs the original way gets exactly {"SourceIP":...}, whoever its
// peer is; a client that sends a fingerprint gets the SourceIP first, then
// its peer's ports, fingerprint and connection ID.
func TestOriginalClientView(t *testing.T) {
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys})
	const fpA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	const fpB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

	old, opted := srv.Dial(t, &mullettest.DialOptions{Header: tenantA.Header, SourceIP: "127.0.0.2"}), srv.Dial(t, &mullettest.DialOptions{Header: tenantA.Header, SourceIP: "127.0.0.3"})
	old.Send(t, `{"action":"pair","pairing_name":"mixed"}`)
	time.Sleep(20 * time.Millisecond)
	opted.Send(t, `{"action":"pair","pairing_name":"mixed","ports":[10000],"fingerprint":"`+fpB+`"}`)
	if f := old.Read(t); f != `{"SourceIP":"127.0.0.3"}` {
		t.Fatalf("the original client got %s", f)
	}
	if f := opted.Read(t); !strings.HasPrefix(f, `{"SourceIP":"127.0.0.2"`) || strings.Contains(f, "Fingerprint") {
		t.Fatalf("the opted-in client paired with an original one got %s", f)
	}

	a, b := srv.Dial(t, &mullettest.DialOptions{Header: tenantA.Header, SourceIP: "127.0.0.4"}), srv.Dial(t, &mullettest.DialOptions{Header: tenantA.Header, SourceIP: "127.0.0.5"})
	a.Send(t, `{"action":"pair","pairing_name":"both","ports":[10000],"fingerprint":"`+fpA+`"}`)
	time.Sleep(20 * time.Millisecond)
	b.Send(t, `{"action":"pair","pairing_name":"both","ports":[10001,10002],"fingerprint":"`+fpB+`"}`)
	fa, fb := a.Read(t), b.Read(t)
	for _, c := range []struct {
		frame, ip, fp string
		ports         []int
	}{{fa, "127.0.0.5", fpB, []int{10001, 10002}}, {fb, "127.0.0.4", fpA, []int{10000}}} {
		if !strings.HasPrefix(c.frame, `{"SourceIP":"`+c.ip+`"`) {
			t.Fatalf("frame %s does not start with the SourceIP %s", c.frame, c.ip)
		}
		var ans app.Answer
		if err := json.Unmarshal([]byte(c.frame), &ans); err != nil || ans.Fingerprint != c.fp || len(ans.Ports) != len(c.ports) || ans.ConnectionID == "" {
			t.Fatalf("frame %s", c.frame)
		}
	}

	// A bad fingerprint never reaches the barrier.
	a.Send(t, `{"action":"pair","pairing_name":"bad","fingerprint":"XYZ"}`)
	if f := a.Read(t); !strings.Contains(f, "Invalid request body") {
		t.Fatalf("a bad fingerprint got %s", f)
	}
}

// TestRelay: a relay frame reaches its addressee with the sender's
// connection ID; one to a connection that is gone gets a 410 error frame.
func TestRelay(t *testing.T) {
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys})
	a, b := srv.Dial(t, tenantA), srv.Dial(t, tenantA)
	const fp = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	a.Send(t, `{"action":"pair","pairing_name":"r","fingerprint":"`+fp+`"}`)
	time.Sleep(20 * time.Millisecond)
	b.Send(t, `{"action":"pair","pairing_name":"r","fingerprint":"d`+fp[1:]+`"}`)
	var ansA, ansB app.Answer
	json.Unmarshal([]byte(a.Read(t)), &ansA)
	json.Unmarshal([]byte(b.Read(t)), &ansB)
	a.Send(t, `{"action":"relay","to":"`+ansA.ConnectionID+`","data":"aGVsbG8="}`)
	var got app.Relayed
	if err := json.Unmarshal([]byte(b.Read(t)), &got); err != nil || got.From != ansB.ConnectionID || got.Data != "aGVsbG8=" {
		t.Fatalf("b got %+v (%v)", got, err)
	}
	a.Send(t, `{"action":"relay","to":"AAAAAAAAAAAAAAA=","data":"eA=="}`)
	if f := a.Read(t); !strings.Contains(f, "is gone") {
		t.Fatalf("a relay to nobody got %s", f)
	}
}
