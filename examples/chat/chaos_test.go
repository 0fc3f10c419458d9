package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mulletgo/mullet/examples/chat/app"
	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/internal/browsertest"
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/mullettest"
)

// TestBrowserChaos drives two chat pages in headless Chromium while every
// connection is cut: each page's connection is deleted through
// @connections every second, and the emulator ends every connection after
// 3 s (MaxDuration). Page one sends 500 numbered messages, fifty a
// second; page two must
// render each exactly once and in order, and both presence lists must name
// both nicks at the end. Screenshots of both pages are saved in
// $MULLET_ARTIFACTS (default testdata/out), under the test's name.
func TestBrowserChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser chaos test runs for about half a minute")
	}
	root := repoRoot(t)
	tools := browsertest.Find(t, root)
	node, playwright, chromium := tools.Node, tools.Playwright, tools.Chromium
	const total = 500

	// The live connections, to cut them.
	var mu sync.Mutex
	live := map[string]bool{}
	a := app.New()
	a.OnConnect(func(ctx context.Context, c *framework.Conn[app.Profile]) error {
		mu.Lock()
		live[c.ConnectionID()] = true
		mu.Unlock()
		return nil
	})
	a.OnDisconnect(func(ctx context.Context, c *framework.Conn[app.Profile]) error {
		mu.Lock()
		delete(live, c.ConnectionID())
		mu.Unlock()
		return nil
	})
	srv := mullettest.NewServer(t, a, &mullettest.Options{
		Page:        http.FileServerFS(os.DirFS("web")),
		MaxDuration: 3 * time.Second,
		Logger:      slog.New(slog.DiscardHandler),
	})
	page := strings.Replace(srv.CallbackURL, "/local", "/", 1)
	out := browsertest.Artifacts(t, filepath.Join("testdata", "out")) // testdata/out is ignored by git

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "chaos.cjs"), playwright, page, "500", out)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	cb := framework.NewCallback(local.LocalAWSConfig(), nil)
	var deleted atomic.Int64
	stopCuts := make(chan struct{})
	var cutting sync.WaitGroup
	cut := func() {
		defer cutting.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopCuts:
				return
			case <-tick.C:
			}
			mu.Lock()
			ids := make([]string, 0, len(live))
			for id := range live {
				ids = append(ids, id)
			}
			mu.Unlock()
			for _, id := range ids {
				dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				if cb.Delete(dctx, srv.CallbackURL, id) == nil {
					deleted.Add(1)
				}
				cancel()
			}
		}
	}
	var lines []string
	var result string
	started := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		switch {
		case strings.HasSuffix(line, " READY"):
			started = true
			cutting.Add(1)
			go cut()
		case strings.HasSuffix(line, " SENT") && started:
			close(stopCuts)
			started = false
		case strings.HasPrefix(line, "RESULT "):
			result = strings.TrimPrefix(line, "RESULT ")
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	if started {
		close(stopCuts)
	}
	cutting.Wait()
	err = cmd.Wait()
	t.Logf("deleted %d connections through @connections; screenshots in %s", deleted.Load(), out)
	t.Logf("browser:\n%s", strings.Join(lines, "\n"))
	if err != nil {
		t.Fatalf("browser chaos test failed: %v", err)
	}
	var res struct {
		One, Two struct {
			Stats struct {
				Connects, Reconnects, Replayed, Duplicates int
			}
			Page struct{ Resent, DuplicateIDs int }
		}
	}
	if err := json.Unmarshal([]byte(result), &res); err != nil {
		t.Fatalf("no result from the browser: %v", err)
	}
	// The sending spans ten seconds: about ten cuts of each page.
	if res.Two.Stats.Reconnects < 6 {
		t.Errorf("page two reconnected %d times: the cuts did not happen", res.Two.Stats.Reconnects)
	}
	if deleted.Load() < 12 {
		t.Errorf("only %d connections deleted", deleted.Load())
	}
}
