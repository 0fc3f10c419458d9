package emulator

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// TestUnixSocketDialer checks that the dialer takes the Unix socket for
// the emulator's TCP address only, falls back to TCP once the socket is
// gone, and that close removes the socket's directory.
func TestUnixSocketDialer(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	s := listenUnixSocket()
	if s == nil {
		t.Skip("no Unix sockets here: the callback client uses TCP")
	}
	answer := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	}
	go http.Serve(s.ln, answer("unix"))
	emu := httptest.NewServer(answer("tcp"))
	defer emu.Close()
	other := httptest.NewServer(answer("other"))
	defer other.Close()

	tr := &http.Transport{DialContext: s.dialer(emu.Listener.Addr().String()), DisableKeepAlives: true}
	get := func(url string) string {
		t.Helper()
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get(emu.URL); got != "unix" {
		t.Errorf("the emulator's address was served by %q, want the Unix socket", got)
	}
	if got := get(other.URL); got != "other" {
		t.Errorf("another address was served by %q", got)
	}
	dir := s.dir
	s.close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("socket directory %s left behind: %v", dir, err)
	}
	if got := get(emu.URL); got != "tcp" {
		t.Errorf("after close the emulator's address was served by %q, want TCP", got)
	}
}
