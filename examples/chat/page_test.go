package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/asyncapi"
	"github.com/mulletgo/mullet/client/browser"
	"github.com/mulletgo/mullet/examples/chat/app"
	"github.com/mulletgo/mullet/internal/browsertest"
)

// TestPageCopies keeps the page's copies current: web/mullet.js is the
// browser client of package client/browser, and web/api.d.ts the types
// mullet asyncapi -ts writes for this app. go generate ./examples/chat
// writes both.
func TestPageCopies(t *testing.T) {
	js, err := os.ReadFile(filepath.Join("web", "mullet.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(js, browser.Source()) {
		t.Error("web/mullet.js differs from client/browser/mullet.js: run go generate ./examples/chat")
	}
	ts, err := os.ReadFile(filepath.Join("web", "api.d.ts"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := asyncapi.TypeScript(app.New().Manifest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ts, want) {
		t.Error("web/api.d.ts differs from the app's declaration (mullet asyncapi -ts): run go generate ./examples/chat")
	}
}

// TestPageTypes type-checks the page's script against the app's generated
// types with the pinned TypeScript compiler (tsc --checkJs --strict), and
// checks that fixtures with a wrong payload or a wrong reply member fail on
// that line.
func TestPageTypes(t *testing.T) {
	root := repoRoot(t)
	node, err := exec.LookPath("node")
	if err != nil {
		browsertest.Need(t, "node", "/nonexistent/node", "install node 20+")
	}
	tsc := filepath.Join(root, "node_modules", "typescript", "bin", "tsc")
	browsertest.Need(t, "typescript", tsc, "run npm ci at the repository root")
	check := func(file string) (string, error) {
		args := []string{tsc, "--noEmit", "--allowJs", "--checkJs", "--strict", "--target", "es2022", "--module", "esnext",
			"--moduleResolution", "bundler", "--lib", "es2022,dom,dom.iterable", "--types", "", file}
		out, err := exec.Command(node, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := check(filepath.Join("web", "chat.js")); err != nil {
		t.Fatalf("tsc --checkJs web/chat.js: %v\n%s", err, out)
	}
	for file, want := range map[string]string{
		"bad_send.js":  "bad_send.js(7,",  // text: 42
		"bad_reply.js": "bad_reply.js(8,", // m.nickname
	} {
		out, err := check(filepath.Join("testdata", "typecheck", file))
		if err == nil {
			t.Errorf("%s type-checks; it must not", file)
			continue
		}
		if !strings.Contains(out, want) {
			t.Errorf("%s: the error is not on the wrong line (%s):\n%s", file, want, out)
		}
	}
}
