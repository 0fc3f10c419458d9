package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mulletgo/mullet/examples/chat/app"
	"github.com/mulletgo/mullet/internal/browsertest"
	"github.com/mulletgo/mullet/mullettest"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestBrowser opens two pages of the chat in headless Chromium: one sends,
// the other shows the message.
func TestBrowser(t *testing.T) {
	root := repoRoot(t)
	tools := browsertest.Find(t, root)
	node, playwright, chromium := tools.Node, tools.Playwright, tools.Chromium

	srv := mullettest.NewServer(t, app.New(), &mullettest.Options{Page: http.FileServerFS(os.DirFS("web"))})
	page := strings.Replace(srv.CallbackURL, "/local", "/", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "browser.cjs"), playwright, page)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("browser test failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "OK alice in lobby: hello from page one") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}

// TestWscat talks to the chat with wscat, the websocket client AWS's own
// documentation uses against API Gateway.
func TestWscat(t *testing.T) {
	root := repoRoot(t)
	node, err := exec.LookPath("node")
	if err != nil {
		browsertest.Need(t, "node", "/nonexistent/node", "install node 20+")
	}
	wscat := filepath.Join(root, "node_modules", "wscat", "bin", "wscat")
	browsertest.Need(t, "wscat", wscat, "run npm ci at the repository root")

	srv := mullettest.NewServer(t, app.New(), nil)
	// -x sends one frame, -w waits for answers, then wscat exits.
	out := runWscat(t, node, wscat, srv.URL, `{"action":"nick","nick":"wscat"}`)
	if !strings.Contains(out, `{"type":"nick","nick":"wscat"}`) {
		t.Fatalf("wscat output:\n%s", out)
	}
	// A frame that fails its schema gets API Gateway's error frame.
	out = runWscat(t, node, wscat, srv.URL, `{"action":"nick","nick":""}`)
	if !strings.Contains(out, `"message": "Invalid request body"`) {
		t.Fatalf("wscat output for a bad frame:\n%s", out)
	}
	// A frame with no route and no $default: API Gateway's Forbidden frame.
	out = runWscat(t, node, wscat, srv.URL, `hello`)
	if !strings.Contains(out, `"message": "Forbidden"`) {
		t.Fatalf("wscat output for a frame with no route:\n%s", out)
	}
}

// runWscat runs wscat with one frame to send and returns what it printed.
// Its stdout goes to a file: node writes pipes asynchronously and wscat's
// process.exit would drop what is still buffered. Its stdin stays open:
// wscat exits when stdin closes.
func runWscat(t *testing.T, node, wscat, url, frame string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	outPath := filepath.Join(t.TempDir(), "wscat.out")
	f, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, node, wscat, "-c", url, "-x", frame, "-w", "1")
	cmd.Stdout, cmd.Stderr = f, f
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(outPath)
		t.Fatalf("wscat: %v\n%s", err, out)
	}
	out, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
