package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"

	chatapp "github.com/mulletgo/mullet/examples/chat/app"
	"github.com/mulletgo/mullet/internal/syncbuf"
)

// toolApp is a small app for the client commands' tests: whoami answers
// the caller's connection ID, bye closes the caller's connection.
func toolApp() *framework.App[struct{}] {
	app := framework.New[struct{}]("tools", nil)
	framework.Handle(app, "whoami", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		return c.ReplyText(ctx, c.ConnectionID())
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "bye", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		return c.Close(ctx, c.ConnectionID())
	}, nil)
	return app
}

// need skips the test when a tool is missing, unless CI=true, where a
// missing tool is a failure.
func need(t *testing.T, what, install string) string {
	t.Helper()
	p, err := exec.LookPath(what)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (CI=true): %s", what, install)
	}
	t.Skipf("%s not found: %s", what, install)
	return ""
}

func TestConnect(t *testing.T) {
	srv := mullettest.NewServer(t, toolApp(), nil)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // in order
		stderr []string
	}{
		{
			name:   "send and print the reply",
			args:   []string{"connect", srv.URL, "-send", `{"action":"whoami"}`, "-wait", "300ms"},
			stdout: []string{`> {"action":"whoami"}`, "\n< "},
			stderr: []string{"connected to " + srv.URL, "closed: 1000 (normal closure)"},
		},
		{
			name:   "several frames, and API Gateway's error frame for one without a route",
			args:   []string{"connect", "-send", `{"action":"whoami"}`, "-send", "hello", "-wait", "300ms", srv.URL},
			stdout: []string{`> {"action":"whoami"}`, "> hello", `< {"message": "Forbidden"`},
		},
		{
			name:   "the server closes",
			args:   []string{"connect", srv.URL, "-send", `{"action":"bye"}`, "-wait", "5s"},
			stdout: []string{`> {"action":"bye"}`},
			stderr: []string{"closed by the server: 1000 (normal closure)"},
		},
		{
			name:   "http URL taken as ws",
			args:   []string{"connect", "-send", `{"action":"whoami"}`, "-wait", "100ms", strings.Replace(srv.URL, "ws://", "http://", 1)},
			stdout: []string{`> {"action":"whoami"}`},
		},
		{
			name:   "wrong stage",
			args:   []string{"connect", strings.TrimSuffix(srv.URL, "/local") + "/prod", "-send", "x"},
			code:   1,
			stderr: []string{"refused the websocket handshake", "403 Forbidden", "check the stage"},
		},
		{
			name:   "refused",
			args:   []string{"connect", "ws://127.0.0.1:1/local", "-send", "x"},
			code:   1,
			stderr: []string{"cannot connect to ws://127.0.0.1:1/local: connection refused; is the server running?"},
		},
		{name: "missing URL", args: []string{"connect"}, code: 2, stderr: []string{"missing URL"}},
		{name: "unquoted frame", args: []string{"connect", srv.URL, "hello"}, code: 2, stderr: []string{"one URL expected", "quote a frame"}},
		{name: "not a websocket URL", args: []string{"connect", "ftp://example.com/x"}, code: 2, stderr: []string{`scheme "ftp" is not a websocket scheme`}},
		{name: "no scheme", args: []string{"connect", "127.0.0.1:8080/local"}, code: 2, stderr: []string{"ws://127.0.0.1:8080/local"}},
		{name: "bad header", args: []string{"connect", "-header", "nocolon", srv.URL}, code: 2, stderr: []string{"'Name: value'"}},
		{name: "bad flag", args: []string{"connect", "-snd", "x", srv.URL}, code: 2, stderr: []string{"did you mean -send?"}},
		{name: "help", args: []string{"connect", "-h"}, code: 0, stderr: []string{"Usage: mullet connect", "-send"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code || !containsInOrder(stdout, tt.stdout) || !containsInOrder(stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant stdout %q, stderr %q", code, tt.code, stdout, stderr, tt.stdout, tt.stderr)
			}
		})
	}
}

func containsInOrder(s string, parts []string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// TestConnectStdin sends frames read from stdin (not a terminal), then
// closes at the end of input after printing the replies.
func TestConnectStdin(t *testing.T) {
	srv := mullettest.NewServer(t, chatapp.New(), nil)
	var stdout, stderr syncbuf.Buffer
	s := &session{
		url:         srv.URL,
		wait:        500 * time.Millisecond,
		dialTimeout: 5 * time.Second,
		stdin:       strings.NewReader("{\"action\":\"nick\",\"nick\":\"pipe\"}\n\n{\"action\":\"join\",\"room\":\"lobby\"}\r\n"),
		stdout:      &stdout,
		stderr:      &stderr,
	}
	if code := s.run(context.Background()); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		`> {"action":"nick","nick":"pipe"}`,
		`< {"type":"nick","nick":"pipe"}`,
		`> {"action":"join","room":"lobby"}`,
		// The emulator, like API Gateway, invokes concurrently: join may
		// run before nick has saved the nickname. Rooms are durable
		// groups: their events come in msg frames (docs/protocol.md).
		`"data":{"type":"joined","room":"lobby","nick":"`,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("stdout lacks %s:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "closed: 1000 (normal closure)") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
}

func TestPrefixLines(t *testing.T) {
	got := prefixLines("< ", "{\n  \"message\": \"Forbidden\"\n}\n")
	want := "< {\n    \"message\": \"Forbidden\"\n  }\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestConnectTmux drives an interactive mullet connect session in a real
// terminal (tmux) against the chat example: typed frames go out, replies
// and pushes come back, Ctrl-D closes.
func TestConnectTmux(t *testing.T) {
	tmux := need(t, "tmux", "install tmux (apt-get install tmux)")
	srv := mullettest.NewServer(t, chatapp.New(), nil)

	dir := t.TempDir()
	bin := filepath.Join(dir, "mullet")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "tmux.conf")
	// Keep the pane after mullet exits, to see its last words.
	if err := os.WriteFile(conf, []byte("set -g remain-on-exit on\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "tmux.sock")
	tm := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, tmux, append([]string{"-S", sock, "-f", conf}, args...)...)
		cmd.Env = append(os.Environ(), "TERM=xterm-256color")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tm("new-session", "-d", "-s", "connect", "-x", "200", "-y", "50", bin+" connect "+srv.URL)
	t.Cleanup(func() { exec.Command(tmux, "-S", sock, "kill-server").Run() })
	pane := func() string { return tm("capture-pane", "-p", "-t", "connect") }
	waitPane := func(want string) string {
		t.Helper()
		var p string
		waitFor(t, "the pane to show "+want, 20*time.Second, func() bool {
			p = pane()
			return strings.Contains(p, want)
		})
		return p
	}
	waitPane("Ctrl-D to quit")
	for _, step := range []struct{ frame, reply string }{
		{`{"action":"nick","nick":"tmux"}`, `< {"type":"nick","nick":"tmux"}`},
		{`{"action":"join","room":"lobby"}`, `"data":{"type":"joined","room":"lobby","nick":"tmux"}}`},
		{`{"action":"send","room":"lobby","text":"hello from a terminal"}`, `"data":{"type":"message","room":"lobby","from":"tmux","text":"hello from a terminal"}}`},
		{`{"action":"nick","nick":""}`, `< {"message": "Invalid request body"`},
	} {
		tm("send-keys", "-t", "connect", "-l", step.frame)
		tm("send-keys", "-t", "connect", "Enter")
		waitPane(step.reply)
	}
	tm("send-keys", "-t", "connect", "C-d")
	p := waitPane("closed: 1000 (normal closure)")
	t.Logf("tmux pane:\n%s", squeezeBlankLines(p))
	for _, want := range []string{
		`> {"action":"nick","nick":"tmux"}` + "\n" + `< {"type":"nick","nick":"tmux"}`,
		`> {"action":"join","room":"lobby"}` + "\n" + `< {"mullet":"msg","group":"lobby"`,
	} {
		if !strings.Contains(p, want) {
			t.Fatalf("pane lacks %q", want)
		}
	}
}

// squeezeBlankLines drops the empty lines of a captured pane.
func squeezeBlankLines(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestConnectSigned: against an app that requires IAM and an API key on
// $connect, connect signs the handshake when asked (headers or a presigned
// URL, with the emulator's credentials for a loopback URL) and sends the
// key; without them the handshake is refused with API Gateway's 403.
func TestConnectSigned(t *testing.T) {
	app := toolApp()
	app.RequireIAM()
	app.RequireAPIKeys(nil)
	const key = "connect-test-key-000000001"
	srv := mullettest.NewServer(t, app, &mullettest.Options{APIKeys: []emulator.APIKey{{Name: "cli", Value: key, Plan: "default"}}})
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"signed headers", []string{"connect", "-sigv4", "header", "-api-key", key, "-send", `{"action":"whoami"}`, "-wait", "200ms", srv.URL}, 0, []string{"< "}, []string{"connected to"}},
		{"presigned URL", []string{"connect", "-sigv4", "presign", "-api-key", key, "-send", `{"action":"whoami"}`, "-wait", "200ms", srv.URL}, 0, []string{"< "}, []string{"connected to"}},
		{"unsigned", []string{"connect", "-api-key", key, "-send", `{"action":"whoami"}`, srv.URL}, 1, nil, []string{"403 Forbidden", `{"message":"Forbidden"}`}},
		{"no key", []string{"connect", "-sigv4", "header", "-send", `{"action":"whoami"}`, srv.URL}, 1, nil, []string{"403 Forbidden"}},
		{"bad mode", []string{"connect", "-sigv4", "query", srv.URL}, 2, nil, []string{"use header or presign"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code || !containsInOrder(stdout, tt.stdout) || !containsInOrder(stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
		})
	}
}

// TestConnectThroughCuts: frames typed into mullet connect while the
// emulator cuts its connection every 400 ms (MaxDuration) and the app
// deletes it (DeleteConnection) are each sent and printed once, and every
// message of the durable room, as the store holds it, is printed exactly
// once and in stream order, through one session.
func TestConnectThroughCuts(t *testing.T) {
	st := memstore.New(nil)
	srv := mullettest.NewServer(t, chatapp.New(), &mullettest.Options{Store: st, MaxDuration: 400 * time.Millisecond})
	in, feed := io.Pipe()
	var stdout, stderr syncbuf.Buffer
	s := &session{url: srv.URL, wait: 2 * time.Second, dialTimeout: 5 * time.Second, stdin: in, stdout: &stdout, stderr: &stderr}
	const total = 40
	go func() {
		fmt.Fprintln(feed, `{"action":"join","room":"lobby"}`)
		time.Sleep(100 * time.Millisecond)
		for i := range total {
			fmt.Fprintf(feed, `{"action":"send","room":"lobby","text":"m%d"}`+"\n", i)
			time.Sleep(40 * time.Millisecond)
		}
		feed.Close()
	}()
	if code := s.run(context.Background()); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for i := range total {
		sent := fmt.Sprintf(`> {"action":"send","room":"lobby","text":"m%d"}`, i)
		if n := strings.Count(out, sent+"\n"); n != 1 {
			t.Errorf("%s printed %d times", sent, n)
		}
	}
	r, err := st.ReadStream(context.Background(), "lobby", store.Position{}, store.StreamOptions{Window: 1000, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, m := range r.Messages {
		var e struct{ Type, Text string }
		if json.Unmarshal(m.Data[1:], &e) == nil && e.Type == "message" {
			want = append(want, e.Text)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		var f struct {
			Mullet, Group string
			Data          struct{ Type, Text string }
		}
		if rest, ok := strings.CutPrefix(line, "< "); ok && json.Unmarshal([]byte(rest), &f) == nil && f.Mullet == "msg" && f.Group == "lobby" && f.Data.Type == "message" {
			got = append(got, f.Data.Text)
		}
	}
	reconnects := strings.Count(stderr.String(), "reconnected: session resumed")
	t.Logf("%d of %d messages published, %d printed, %d reconnects", len(want), total, len(got), reconnects)
	if !slices.Equal(got, want) {
		t.Fatalf("printed %v\nthe stream holds %v\nstderr:\n%s", got, want, stderr.String())
	}
	if reconnects < 2 || strings.Contains(stderr.String(), "new one started") {
		t.Fatalf("want several resumes of one session; stderr:\n%s", stderr.String())
	}
	if len(want) < total*3/4 {
		t.Fatalf("only %d of %d sent messages were published", len(want), total)
	}
}

// TestConnectSignedThroughCuts: with -sigv4 and -api-key, every reconnect
// of a session is signed afresh: a presigned URL covers the session's
// query string, which changes on every upgrade, so a signature made once
// would be refused on the first resume.
func TestConnectSignedThroughCuts(t *testing.T) {
	for _, mode := range []string{"header", "presign"} {
		t.Run(mode, func(t *testing.T) {
			app := framework.New[struct{}]("tools", &framework.Options{Sessions: &framework.SessionOptions{}})
			framework.Handle(app, "whoami", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
				return c.ReplyText(ctx, c.ConnectionID())
			}, &framework.RouteOptions{TwoWay: true})
			app.RequireIAM()
			app.RequireAPIKeys(nil)
			const key = "connect-test-key-000000002"
			srv := mullettest.NewServer(t, app, &mullettest.Options{
				APIKeys:     []emulator.APIKey{{Name: "cli", Value: key, Plan: "default"}},
				MaxDuration: 300 * time.Millisecond,
			})
			code, stdout, stderr := runCLI(t, "connect", "-sigv4", mode, "-api-key", key, "-send", `{"action":"whoami"}`, "-wait", "1500ms", srv.URL)
			resumes := strings.Count(stderr, "reconnected: session resumed")
			if code != 0 || resumes < 2 || strings.Contains(stderr, "attempt") || strings.Contains(stderr, "new one started") || !strings.Contains(stdout, "< ") {
				t.Fatalf("exit %d, %d resumes\nstdout:\n%s\nstderr:\n%s", code, resumes, stdout, stderr)
			}
		})
	}
}
