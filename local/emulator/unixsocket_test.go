package emulator

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/mulletgo/mullet/manifest"
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

// TestInProcessPushesSkipReSigning: a request over the private Unix socket
// (the app bound in this process) is checked for a SigV4 shape only, while
// the same wrongly signed request over TCP is refused.
func TestInProcessPushesSkipReSigning(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	m := &manifest.Manifest{Version: manifest.Version, Name: "sock", RouteSelectionExpression: "$request.body.action",
		Routes: []manifest.Route{{Key: manifest.RouteDefault}}}
	srv, err := Listen("127.0.0.1:0", &Options{Manifest: m, Invoke: func(context.Context, *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	dial := srv.InProcessDialer()
	if srv.sock == nil {
		t.Skip("no Unix sockets here: in-process pushes use TCP and are verified")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	post := func(client *http.Client, auth string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.CallbackURL()+"/@connections/eHrdFcnvvHcCE-w=", strings.NewReader("hi"))
		req.Header.Set("X-Amz-Date", "20261204T000000Z")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	wrong := "AWS4-HMAC-SHA256 Credential=local/20261204/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"
	inProcess := &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	tcp := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if got := post(inProcess, wrong); got != http.StatusGone {
		t.Errorf("in process, a wrong signature got %d, want 410 (authenticated, unknown connection)", got)
	}
	if got := post(inProcess, ""); got != http.StatusForbidden {
		t.Errorf("in process, no signature got %d, want 403", got)
	}
	if got := post(tcp, wrong); got != http.StatusForbidden {
		t.Errorf("over TCP, a wrong signature got %d, want 403", got)
	}
}
