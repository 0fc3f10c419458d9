// Package browsertest finds what the repository's headless-browser tests
// run with: node, the pinned playwright-core (npm ci) and Chromium. A test
// skips with the fix when one is missing, and fails instead when CI=true,
// so that a CI machine cannot pass by skipping.
package browsertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tools are the paths a browser test's node script needs.
type Tools struct {
	// Node is the node executable.
	Node string
	// Playwright is the playwright-core package in the repository's
	// node_modules, the script's first argument.
	Playwright string
	// Chromium is the browser: $CHROMIUM, or Debian's /usr/bin/chromium.
	// Pass it to the script as CHROMIUM in its environment.
	Chromium string
}

// Find returns the tools, given the repository's root (the folder of its
// go.mod and node_modules).
func Find(t testing.TB, repoRoot string) Tools {
	t.Helper()
	var tools Tools
	node, err := exec.LookPath("node")
	if err != nil {
		Need(t, "node", "/nonexistent/node", "install node 20+")
	}
	tools.Node = node
	tools.Playwright = filepath.Join(repoRoot, "node_modules", "playwright-core")
	Need(t, "playwright-core", tools.Playwright, "run npm ci at the repository root")
	tools.Chromium = os.Getenv("CHROMIUM")
	if tools.Chromium == "" {
		tools.Chromium = "/usr/bin/chromium"
	}
	Need(t, "chromium", tools.Chromium, "install Debian's chromium package (apt-get install chromium)")
	return tools
}

// Need skips t, or fails it when CI=true, unless path exists; what names
// the tool and install says how to get it.
func Need(t testing.TB, what, path, install string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found at %s (CI=true): %s", what, path, install)
	}
	t.Skipf("%s not found at %s: %s", what, path, install)
}

// Artifacts returns the folder for t's screenshots, created:
// $MULLET_ARTIFACTS, or def when it is unset, then t's name. t.TempDir
// would delete them with the test.
func Artifacts(t testing.TB, def string) string {
	t.Helper()
	dir := os.Getenv("MULLET_ARTIFACTS")
	if dir == "" {
		dir = def
	}
	dir, err := filepath.Abs(filepath.Join(dir, t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
