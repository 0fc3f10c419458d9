package browser_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/client/browser"
)

// needNode finds node and a package of the repository's node_modules,
// skipping the test when either is missing, unless CI=true, where that is
// a failure.
func needNode(t *testing.T, pkg string) (node, root string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	node, err = exec.LookPath("node")
	if err == nil && pkg != "" {
		_, err = os.Stat(filepath.Join(root, "node_modules", pkg, "package.json"))
	}
	if err != nil {
		msg := "needs node 20+"
		if pkg != "" {
			msg += " and the npm package " + pkg + " (run npm ci at the repository root)"
		}
		msg += ": " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true)")
		}
		t.Skip(msg)
	}
	return node, root
}

// TestUnit runs mullet_test.mjs under node's test runner: reconnect with
// backoff on a fake clock, queue overflow, request timeout, replay order
// and de-duplication, secret rotation, discontinuity, paged replays.
func TestUnit(t *testing.T) {
	node, _ := needNode(t, "")
	out, err := exec.Command(node, "--test", "--test-reporter=spec", "mullet_test.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test mullet_test.mjs: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "fail 0") {
		t.Fatalf("unexpected node --test output:\n%s", out)
	}
	t.Logf("%s", out)
}

// TestTypes type-checks mullet.js with the pinned TypeScript compiler
// (tsc --checkJs --strict).
func TestTypes(t *testing.T) {
	node, root := needNode(t, "typescript")
	if out, err := exec.Command(node, append([]string{tsc(root)}, checkJSArgs("mullet.js")...)...).CombinedOutput(); err != nil {
		t.Fatalf("tsc --checkJs mullet.js: %v\n%s", err, out)
	}
}

// tsc is the pinned TypeScript compiler's entry point.
func tsc(root string) string { return filepath.Join(root, "node_modules", "typescript", "bin", "tsc") }

// checkJSArgs are tsc's arguments to type-check JavaScript files as the
// browser runs them.
func checkJSArgs(files ...string) []string {
	return append([]string{"--noEmit", "--allowJs", "--checkJs", "--strict", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler", "--lib", "es2022,dom", "--types", ""}, files...)
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(browser.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/mullet.js")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("Content-Type %q", ct)
	}
	if string(body) != string(browser.Source()) || !strings.Contains(string(body), "export class MulletClient") {
		t.Errorf("served %d bytes, not mullet.js", len(body))
	}
}
