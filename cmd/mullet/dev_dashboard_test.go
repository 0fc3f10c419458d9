package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/internal/browsertest"
	"github.com/mulletgo/mullet/internal/syncbuf"
	"github.com/mulletgo/mullet/local/dashboard"
	"github.com/mulletgo/mullet/local/dynalite"
)

// devSession is one mullet dev running in the test.
type devSession struct {
	addr           string
	stdout, stderr syncbuf.Buffer
}

// startDev runs mullet dev with args on dir until the test ends.
func startDev(t *testing.T, dir string, args ...string) *devSession {
	t.Helper()
	s := &devSession{addr: freeAddr(t)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	all := append([]string{"dev", "-addr", s.addr, "-lambda-stats", "0"}, args...)
	go func() { done <- run(ctx, append(all, dir), &s.stdout, &s.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("mullet dev %s exited %d", dir, code)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("mullet dev %s did not stop", dir)
		}
		if t.Failed() {
			t.Logf("mullet dev %s stdout:\n%s\nstderr:\n%s", dir, s.stdout.String(), s.stderr.String())
		}
	})
	return s
}

var (
	dashboardLine = regexp.MustCompile(`dashboard: (http://\S+) \(traces: OTLP/HTTP receiver at (http://\S+) `)
)

// ready waits for the banner and returns the dashboard's URL and the OTLP
// receiver's endpoint.
func (s *devSession) ready(t *testing.T) (dash, otlp string) {
	t.Helper()
	waitFor(t, "mullet dev to serve", 120*time.Second, func() bool { return dashboardLine.MatchString(s.stdout.String()) })
	m := dashboardLine.FindStringSubmatch(s.stdout.String())
	return m[1], m[2]
}

func getJSON(t *testing.T, url string, v any) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return string(b)
}

// TestDevDashboard drives the chat (state in mullet dev's memory) and the
// rendezvous (state in the dynalite mullet dev starts) examples under mullet
// dev with real websocket clients (two chat clients in a room, one
// rendezvous arrival that waits at its barrier, a chat message whose
// invocation is traced), then opens both dashboards in headless Chromium,
// which must show the connections, the group, the waiting barrier and the
// message's trace, and saves screenshots.
func TestDevDashboard(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tools := browsertest.Find(t, root)
	node, playwright, chromium := tools.Node, tools.Playwright, tools.Chromium

	const apiKey = "dashboard-test-api-key-value-0123456789"
	keys := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keys, []byte(`[{"name":"tenant-a","value":"`+apiKey+`","plan":"free"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Both build at once.
	chat := startDev(t, filepath.Join(root, "examples", "chat"))
	// The rendezvous keeps its state in the dynalite mullet dev starts, so
	// the dashboard reads it with a Scan.
	if _, _, err := dynalite.Locate(); err != nil {
		browsertest.Need(t, "dynalite", "/nonexistent/dynalite", err.Error())
	}
	rv := startDev(t, filepath.Join(root, "examples", "rendezvous"), "-api-keys", keys, "-store", "dynamodb")
	chatDash, _ := chat.ready(t)
	rvDash, _ := rv.ready(t)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Chat: ann and bob in the lobby, then ann's message to it.
	var ann, bob *websocket.Conn
	for _, c := range []**websocket.Conn{&ann, &bob} {
		conn, _, err := websocket.Dial(ctx, "ws://"+chat.addr+"/local", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.CloseNow() })
		*c = conn
	}
	for c, nick := range map[*websocket.Conn]string{ann: "ann", bob: "bob"} {
		write(t, ctx, c, `{"action":"nick","nick":"`+nick+`"}`)
		expect(t, ctx, c, `{"type":"nick","nick":"`+nick+`"}`)
	}
	write(t, ctx, ann, `{"action":"join","room":"lobby"}`)
	expect(t, ctx, ann, `{"type":"joined","room":"lobby","nick":"ann"}`)
	write(t, ctx, bob, `{"action":"join","room":"lobby"}`)
	for _, c := range []*websocket.Conn{ann, bob} {
		expect(t, ctx, c, `{"type":"joined","room":"lobby","nick":"bob"}`)
	}
	write(t, ctx, ann, `{"action":"send","room":"lobby","text":"hi"}`)
	for _, c := range []*websocket.Conn{ann, bob} {
		expect(t, ctx, c, `{"type":"message","room":"lobby","from":"ann","text":"hi"}`)
	}
	// A frame the API refuses, for the log.
	write(t, ctx, bob, `{"action":"nick","nick":""}`)
	read(t, ctx, bob)

	// Rendezvous: one arrival, which waits for its peer.
	h := http.Header{}
	h.Set("x-api-key", apiKey)
	left, _, err := websocket.Dial(ctx, "ws://"+rv.addr+"/local", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { left.CloseNow() })
	write(t, ctx, left, `{"action":"pair","pairing_name":"dashboard-demo"}`)
	waitFor(t, "the waiting barrier", 20*time.Second, func() bool {
		return strings.Contains(getJSON(t, rvDash+"api/state", nil), `"status":"waiting"`)
	})

	// The message's trace: the spans the chat's Lambda instance exported
	// to the OTLP receiver mullet dev runs.
	var invs []dashboard.Invocation
	getJSON(t, chatDash+"api/invocations", &invs)
	var send dashboard.Invocation
	for _, inv := range invs {
		if inv.Route == "send" {
			send = inv
		}
	}
	if send.RequestID == "" {
		t.Fatalf("no send invocation in the dashboard's log: %+v", invs)
	}
	waitFor(t, "the framework's spans of the send", 15*time.Second, func() bool {
		return strings.Contains(getJSON(t, chatDash+"api/traces", nil), send.RequestID)
	})

	// The page's push form pushes to bob (the second $connect), who reads
	// while the browser runs.
	var connects []string
	for _, inv := range invs {
		if inv.Route == "$connect" {
			connects = append(connects, inv.ConnectionID)
		}
	}
	if len(connects) != 2 {
		t.Fatalf("$connect invocations: %v", connects)
	}
	bobID := connects[1]
	pushed := make(chan string, 1)
	go func() {
		for {
			_, data, err := bob.Read(ctx)
			if err != nil {
				pushed <- "read: " + err.Error()
				return
			}
			if string(data) == "pushed from the dashboard" {
				pushed <- string(data)
				return
			}
		}
	}()

	out := browsertest.Artifacts(t, filepath.Join(os.TempDir(), "mullet-artifacts"))
	bctx, bcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer bcancel()
	cmd := exec.CommandContext(bctx, node, filepath.Join("testdata", "dashboard.cjs"), playwright, chatDash, rvDash, out,
		bobID, apiKey)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, got)
	}
	t.Logf("browser:\n%s", strings.TrimSpace(string(got)))
	t.Logf("screenshots: %s", out)
	select {
	case got := <-pushed:
		if got != "pushed from the dashboard" {
			t.Errorf("bob: %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("bob did not get the dashboard's push")
	}

	// No secret in anything the dashboards serve.
	for _, d := range []string{chatDash, rvDash} {
		for _, p := range []string{"api/state", "api/invocations", "api/traces"} {
			if body := getJSON(t, d+p, nil); strings.Contains(body, apiKey) {
				t.Errorf("%s%s shows the API key", d, p)
			}
		}
	}
}
