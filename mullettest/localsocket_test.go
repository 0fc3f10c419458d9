package mullettest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest"
)

// TestPushesOverLocalSocket: an app served in process pushes to its
// clients through the emulator's Unix socket, which exists while it serves
// and is removed when it stops; the TCP @connections endpoint stays what
// outside clients use.
func TestPushesOverLocalSocket(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	sockets := func() []string {
		m, _ := filepath.Glob(filepath.Join(tmp, "mullet-*", "emulator.sock"))
		return m
	}
	// Registered first, so it runs after the server's own cleanup.
	t.Cleanup(func() {
		if s := sockets(); len(s) != 0 {
			t.Errorf("sockets left after the server stopped: %v", s)
		}
		if d, _ := filepath.Glob(filepath.Join(tmp, "mullet-*")); len(d) != 0 {
			t.Errorf("directories left after the server stopped: %v", d)
		}
	})
	type say struct {
		Text string `json:"text"`
	}
	app := framework.New[struct{}]("sock", nil)
	framework.Handle(app, "say", func(ctx context.Context, c *framework.Conn[struct{}], m say) error {
		return c.ReplyText(ctx, m.Text)
	}, nil)
	srv := mullettest.NewServer(t, app, nil)
	if s := sockets(); len(s) != 1 {
		t.Fatalf("sockets while serving: %v, want one", s)
	} else if fi, err := os.Stat(s[0]); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("%s is not a socket: %v", s[0], err)
	}
	a, b := srv.Dial(t, nil), srv.Dial(t, nil)
	for i := range 50 {
		a.Send(t, `{"action":"say","text":"a"}`)
		b.Send(t, `{"action":"say","text":"b"}`)
		if got := a.Read(t); got != "a" {
			t.Fatalf("push %d to a: %s", i, got)
		}
		if got := b.Read(t); got != "b" {
			t.Fatalf("push %d to b: %s", i, got)
		}
	}
	// On Linux, the kernel lists the socket's accepted connections under
	// its path: the pushes' keep-alive connections are there.
	if table, err := os.ReadFile("/proc/net/unix"); err == nil {
		if n := strings.Count(string(table), sockets()[0]); n < 2 {
			t.Errorf("%d entries for the socket in /proc/net/unix: the pushes did not take it", n)
		}
	}
}
