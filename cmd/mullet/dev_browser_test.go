package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mulletgo/mullet/internal/browsertest"
)

// chatWithPing is the chat example's main package with one more route: the
// route change that makes mullet dev restart the API.
const chatWithPing = `package main

import (
	"context"

	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/examples/chat/app"
	"github.com/mulletgo/mullet/framework"
)

func main() {
	a := app.New()
	framework.Handle(a, "ping", func(ctx context.Context, c *framework.Conn[app.Profile], _ struct{}) error {
		return c.ReplyText(ctx, "pong")
	}, &framework.RouteOptions{TwoWay: true})
	mullet.Main(a)
}
`

// copyChat copies the chat example's main package and page into a new
// directory of this module (its name starts with _, so ./... leaves it
// out), removed when the test ends: the test changes the copy, never the
// example. The copy imports the example's app package.
func copyChat(t *testing.T, root string) string {
	t.Helper()
	dir, err := os.MkdirTemp(root, "_devchatbrowser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	chat := filepath.Join(root, "examples", "chat")
	src, err := os.ReadFile(filepath.Join(chat, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "web"), os.DirFS(filepath.Join(chat, "web"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowserSurvivesDevRebuild opens two chat pages in headless Chromium
// under mullet dev (on a copy of the chat example), sets their nicks and
// joins both to the lobby, then changes the app twice with no user action
// on the pages. An ordinary rebuild (a .go file touched) keeps both
// connections open, and a message sent after it arrives. A rebuild that
// adds a route restarts the API, which closes every connection (1001):
// both pages' connection indicators leave "connected" and come back, a
// message sent afterwards arrives exactly once, the presence lists still
// read both nicks, and the messages sent before are neither lost nor shown
// twice. Screenshots are saved in $MULLET_ARTIFACTS (default
// $TMPDIR/mullet-artifacts), under the test's name.
func TestBrowserSurvivesDevRebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the browser test under mullet dev (it builds the chat three times)")
	}
	root := repoRoot(t)
	tools := browsertest.Find(t, root)
	node, playwright, chromium := tools.Node, tools.Playwright, tools.Chromium

	start := time.Now()
	dir := copyChat(t, root)
	dev := startDev(t, dir, "-poll", "50ms", "-debounce", "50ms")
	dev.ready(t)
	t.Logf("mullet dev served the copy after %.1fs", time.Since(start).Seconds())

	out := browsertest.Artifacts(t, filepath.Join(os.TempDir(), "mullet-artifacts"))

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "devrebuild.cjs"), playwright, "http://"+dev.addr+"/", out)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	browserStart := time.Now()

	// answer tells the script whether its step happened ("done") or not.
	answer := func(ok bool) {
		line := "done\n"
		if !ok {
			line = "mullet dev did not take the change\n"
		}
		if _, err := io.WriteString(stdin, line); err != nil {
			t.Errorf("tell the browser: %v", err)
		}
	}
	// await waits for mullet dev's line about the n-th time it says what.
	await := func(what string, n int) bool {
		deadline := time.Now().Add(60 * time.Second)
		for strings.Count(dev.stderr.String(), what) < n {
			if time.Now().After(deadline) {
				t.Errorf("timed out waiting for mullet dev to say %q", what)
				return false
			}
			time.Sleep(50 * time.Millisecond)
		}
		return true
	}
	const (
		kept      = "new invocations go to Lambda instances of the new build (connections stay open)"
		restarted = "the routes changed, so the API restarts (connections close; the store keeps the rest)"
	)
	var lines []string
	var result, screenshot string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "STEP rebuild":
			t0 := time.Now()
			n := strings.Count(dev.stderr.String(), kept)
			now := time.Now()
			if err := os.Chtimes(filepath.Join(dir, "main.go"), now, now); err != nil {
				t.Fatal(err)
			}
			ok := await(kept, n+1)
			t.Logf("rebuild (main.go touched): %.1fs from the change to the new build serving", time.Since(t0).Seconds())
			answer(ok)
		case line == "STEP routes":
			t0 := time.Now()
			n := strings.Count(dev.stderr.String(), restarted)
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(chatWithPing), 0o644); err != nil {
				t.Fatal(err)
			}
			ok := await(restarted, n+1)
			t.Logf("route change: %.1fs from the change to the API's restart", time.Since(t0).Seconds())
			answer(ok)
		case strings.HasPrefix(line, "RESULT "):
			result = strings.TrimPrefix(line, "RESULT ")
			continue
		case strings.HasPrefix(line, "SCREENSHOT "):
			screenshot = strings.TrimPrefix(line, "SCREENSHOT ")
		}
		lines = append(lines, line)
	}
	stdin.Close()
	err = cmd.Wait()
	t.Logf("browser (%.1fs):\n%s", time.Since(browserStart).Seconds(), strings.Join(lines, "\n"))
	if err != nil {
		var pretty bytes.Buffer
		if json.Indent(&pretty, []byte(result), "", "  ") == nil {
			result = pretty.String()
		}
		t.Fatalf("the chat pages did not survive mullet dev's rebuilds: %v\npages:\n%s", err, result)
	}
	var res struct {
		RecoveredMs int
		Alice, Bob  struct {
			IndicatorHistory []string
			States           []string
			Stats            struct{ Connects, Reconnects, Replayed, Duplicates int }
		}
	}
	if err := json.Unmarshal([]byte(result), &res); err != nil {
		t.Fatalf("no result from the browser: %v", err)
	}
	for nick, p := range map[string]any{"alice": res.Alice, "bob": res.Bob} {
		t.Logf("%s after the API restart: %+v", nick, p)
	}
	t.Logf("both pages connected again %d ms after the route change was written (the build included)", res.RecoveredMs)
	t.Logf("screenshot after the API restart: %s (and page one's beside it); %.1fs in all", screenshot, time.Since(start).Seconds())
}
