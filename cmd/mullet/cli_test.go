package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/internal/syncbuf"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncbuf.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCLIErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	notMain := t.TempDir()
	os.WriteFile(filepath.Join(notMain, "go.mod"), []byte("module example.com/lib\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(notMain, "lib.go"), []byte("package lib\n"), 0o644)
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "go.mod"), []byte("module example.com/empty\n\ngo 1.26\n"), 0o644)
	noModule := t.TempDir()
	os.WriteFile(filepath.Join(noModule, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"no command", nil, 2, "Commands:"},
		{"unknown command", []string{"dve"}, 2, `did you mean "dev"?`},
		{"unknown flag", []string{"dev", "-adr", "x", "."}, 2, "did you mean -addr?"},
		{"missing DIR", []string{"dev"}, 2, "missing DIR"},
		{"DIR does not exist", []string{"dev", "/nonexistent/app"}, 1, "/nonexistent/app"},
		{"DIR not a main package", []string{"dev", notMain}, 1, `holds package "lib", not a main package`},
		{"DIR without Go files", []string{"dev", empty}, 1, "has no Go files"},
		{"DIR outside a module", []string{"dev", noModule}, 1, "not inside a Go module"},
		{"DIR is a file", []string{"dev", "main.go"}, 1, "is a file"},
		{"port in use", []string{"dev", "-addr", busy, "../../examples/chat"}, 1, "already in use"},
		{"help", []string{"dev", "-h"}, 0, "Usage: mullet dev"},
		{"flags after DIR", []string{"dev", "../../examples/chat", "-adr", "x"}, 2, "did you mean -addr?"},
		{"negative debounce", []string{"dev", "-debounce", "-1s", "../../examples/chat"}, 2, "-debounce not negative"},
		{"unknown command near connect", []string{"conect"}, 2, `did you mean "connect"?`},
		{"unknown command near synth", []string{"synt"}, 2, `did you mean "synth"?`},
		{"version", []string{"version"}, 0, "mullet v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant text %q", code, tt.wantCode, stdout, stderr, tt.want)
			}
		})
	}
}

// TestEveryCommandHasHelp: -h on every command prints its usage, once,
// and succeeds.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		code, stdout, stderr := runCLI(t, c.name, "-h")
		if code != 0 || strings.Count(stdout+stderr, "Usage: mullet "+c.name) != 1 {
			t.Errorf("mullet %s -h: exit %d\n%s%s", c.name, code, stdout, stderr)
		}
	}
}

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args []string
		send string
		pos  []string
	}{
		{[]string{"-send", "x", "URL"}, "x", []string{"URL"}},
		{[]string{"URL", "-send", "x"}, "x", []string{"URL"}},
		{[]string{"A", "-send", "x", "B"}, "x", []string{"A", "B"}},
		{[]string{"A", "--", "-send", "x"}, "", []string{"A", "-send", "x"}},
		{[]string{"-", "-send", "x"}, "x", []string{"-"}},
		// Connection IDs that begin with '-' are arguments, wherever they are.
		{[]string{"-send", "x", "-0euEUDfaBDqYXc=", "B"}, "x", []string{"-0euEUDfaBDqYXc=", "B"}},
		{[]string{"-0euEUDfaBDqYXc=", "-send", "x", "-_euEUDfaBDqYXc="}, "x", []string{"-0euEUDfaBDqYXc=", "-_euEUDfaBDqYXc="}},
		{[]string{"A", "--", "-0euEUDfaBDqYXc=", "-send"}, "", []string{"A", "-0euEUDfaBDqYXc=", "-send"}},
	}
	for _, tt := range tests {
		fs := newFlagSet("t", "t", io.Discard)
		send := fs.String("send", "", "")
		if code, done := parseWith(fs, tt.args, io.Discard, looksLikeConnectionID); done {
			t.Fatalf("parse(%q): exit %d", tt.args, code)
		}
		if *send != tt.send || !slices.Equal(fs.Args(), tt.pos) {
			t.Errorf("parse(%q): -send %q, args %q; want %q, %q", tt.args, *send, fs.Args(), tt.send, tt.pos)
		}
	}
}

const devApp = `package main

import (
	"context"

	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/framework"
)

func main() {
	app := framework.New[struct{}]("devtest", nil)
	framework.Handle(app, "version", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		return c.ReplyText(ctx, "VERSION")
	}, &framework.RouteOptions{TwoWay: true})
	mullet.Main(app)
}
`

func freeAddr(t *testing.T) string {
	t.Helper()
	// A port below the kernel's ephemeral range (32768 and up on Linux):
	// mullet dev binds it only after building the app, seconds later, and
	// meanwhile the outgoing connections of tests running in parallel
	// take ephemeral ports, so a port the kernel handed out could be
	// taken again by then.
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port between 20000 and 32000 on 127.0.0.1")
	return ""
}

// ask connects, sends {"action":"version"} and returns the reply, or "" on
// failure.
func ask(url string) string { return askFrame(url, `{"action":"version"}`) }

// askFrame connects, sends frame and returns the reply, or "" on failure.
func askFrame(url, frame string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return ""
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		return ""
	}
	_, data, err := c.Read(ctx)
	if err != nil {
		return ""
	}
	return string(data)
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDevRebuilds runs mullet dev on a small app inside this module,
// changes it, breaks it, and checks that the last good build keeps serving.
// With the default runtime a connection opened before a rebuild stays open
// and its next frame runs the new build; with -runtime inprocess the app's
// process is replaced, and its connections close.
func TestDevRebuilds(t *testing.T) {
	for _, runtime := range []string{"local", "inprocess"} {
		t.Run(runtime, func(t *testing.T) { testDevRebuilds(t, runtime) })
	}
}

func testDevRebuilds(t *testing.T, runtime string) {
	dir, err := os.MkdirTemp("../..", "_devtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	write := func(src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Replace(devApp, "VERSION", "v1", 1))
	if runtime == "local" {
		// The instances get mullet dev's MULLET_METRICS, as infra sets it
		// on the function in AWS.
		t.Setenv("MULLET_METRICS", "emf")
	}
	addr := freeAddr(t)
	url := "ws://" + addr + "/local"
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan int, 1)
	args := []string{"dev", "-addr", addr, "-poll", "100ms", dir}
	if runtime != "local" {
		args = append([]string{"dev", "-runtime", runtime}, args[1:]...)
	}
	go func() { done <- run(ctx, args, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("mullet dev exited %d\nstderr: %s", code, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("mullet dev did not stop")
		}
	})

	waitFor(t, "the first build to serve v1", 90*time.Second, func() bool { return ask(url) == "v1" })
	out := stdout.String()
	for _, want := range []string{"websocket:    " + url, "@connections: http://" + addr + "/local/@connections/{connectionId}", "version", "two-way"} {
		if !strings.Contains(out, want) {
			t.Fatalf("banner lacks %q:\n%s", want, out)
		}
	}

	// One JSON line per invocation, since stdout is not a terminal.
	waitFor(t, "the invocation log", 5*time.Second, func() bool {
		return strings.Contains(stdout.String(), `"route":"version","connectionId":"`)
	})
	if runtime == "local" {
		if !strings.Contains(stdout.String(), "metrics: MULLET_METRICS=emf") {
			t.Errorf("banner lacks the metrics line:\n%s", stdout.String())
		}
		waitFor(t, "an EMF line of the version route", 5*time.Second, func() bool {
			for line := range strings.Lines(stderr.String()) {
				if _, emf, ok := strings.Cut(line, " | "); ok && strings.Contains(emf, `"CloudWatchMetrics"`) && strings.Contains(emf, `"Route":"version"`) {
					return true
				}
			}
			return false
		})
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	write(strings.Replace(devApp, "VERSION", "v2", 1))
	waitFor(t, "the rebuild to serve v2", 90*time.Second, func() bool { return ask(url) == "v2" })
	if !strings.Contains(stderr.String(), "mullet dev: main.go changed; rebuilding") {
		t.Fatalf("the rebuild does not name the changed file:\n%s", stderr.String())
	}
	err = c.Write(dctx, websocket.MessageText, []byte(`{"action":"version"}`))
	var data []byte
	if err == nil {
		_, data, err = c.Read(dctx)
	}
	switch runtime {
	case "local":
		if err != nil || string(data) != "v2" {
			t.Fatalf("the connection opened before the rebuild: %q, %v; want v2 on the same connection", data, err)
		}
	case "inprocess":
		if err == nil {
			t.Fatalf("the connection opened before the rebuild still answers %q; -runtime inprocess replaces the process", data)
		}
	}

	write(strings.Replace(devApp, `"VERSION")`, `"v3") +`, 1))
	waitFor(t, "the build failure to be reported", 90*time.Second, func() bool {
		return strings.Contains(stderr.String(), "build failed; still serving the last good build")
	})
	if got := ask(url); got != "v2" {
		t.Fatalf("after a failed build the server answers %q, want the last good build's v2", got)
	}
}
