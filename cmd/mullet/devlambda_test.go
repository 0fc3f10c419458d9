package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/internal/syncbuf"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
)

func TestDevRuntimeErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"lambda without dynamodb", []string{"dev", "-runtime", "lambda", "../../examples/rendezvous"}, "-runtime lambda needs -store dynamodb"},
		{"unknown runtime", []string{"dev", "-runtime", "docker", "../../examples/rendezvous"}, `-runtime "docker": use local, lambda or inprocess`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nwant %q", code, stdout, stderr, tt.want)
			}
		})
	}
}

// lambdaDevApp is a small app for TestDevLambda: VERSION and EXTRA are
// replaced to make new builds; its web/ directory holds a page.
const lambdaDevApp = `package main

import (
	"context"

	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/framework"
)

func main() {
	app := framework.New[struct{}]("devlambda", nil)
	framework.Handle(app, "version", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		return c.ReplyText(ctx, "VERSION")
	}, &framework.RouteOptions{TwoWay: true})
	// EXTRA
	mullet.Main(app)
}
`

// TestDevLambda runs mullet dev -runtime lambda against dynalite: the app
// runs as Lambda instances, a rebuild with the same routes keeps
// connections open, a rebuild with new routes restarts the API, pages are
// served, and cold starts and latencies are logged.
func TestDevLambda(t *testing.T) {
	db := dynalitetest.Start(t)
	table := db.NewTable(t)
	dir, err := os.MkdirTemp("../..", "_devlambdatest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	write := func(version, extra string) {
		t.Helper()
		src := strings.Replace(lambdaDevApp, "VERSION", version, 1)
		src = strings.Replace(src, "// EXTRA", extra, 1)
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("v1", "")
	if err := os.Mkdir(filepath.Join(dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "web", "index.html"), []byte("PAGE /index.html"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	url := "ws://" + addr + "/local"
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "-runtime", "lambda", "-addr", addr, "-poll", "100ms", "-lambda-stats", "200ms",
			"-store", "dynamodb", "-dynamodb-endpoint", db.Endpoint, "-table", table, dir}, &stdout, &stderr)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("mullet dev exited %d\nstderr: %s", code, stderr.String())
			}
		case <-time.After(60 * time.Second):
			t.Errorf("mullet dev did not stop")
		}
	}
	t.Cleanup(stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})

	waitFor(t, "the first build to serve v1", 90*time.Second, func() bool { return ask(url) == "v1" })
	for _, want := range []string{"websocket:    " + url, "runtime: Lambda instances of " + dir} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("banner lacks %q:\n%s", want, stdout.String())
		}
	}
	waitFor(t, "a cold start line", 5*time.Second, func() bool {
		return strings.Contains(stderr.String(), `msg="lambda cold start" instance=1 init=`)
	})
	waitFor(t, "the invocation log", 5*time.Second, func() bool {
		return strings.Contains(stdout.String(), `"route":"version","connectionId":"`)
	})
	waitFor(t, "the latency line", 5*time.Second, func() bool {
		return strings.Contains(stderr.String(), "mullet dev: lambda: ") && strings.Contains(stderr.String(), "cold p50")
	})
	if got := get(t, "http://"+addr+"/index.html"); got != "PAGE /index.html" {
		t.Errorf("page: %q", got)
	}
	if !strings.Contains(stdout.String(), "asyncapi: http://"+addr+asyncAPIPath) {
		t.Errorf("banner lacks the AsyncAPI document's URL:\n%s", stdout.String())
	}
	if got := get(t, "http://"+addr+asyncAPIPath); !strings.Contains(got, `"asyncapi": "3.0.0"`) || !strings.Contains(got, `"host": "`+addr+`"`) {
		t.Errorf("%s: %.200s", asyncAPIPath, got)
	}

	// A connection opened now survives a rebuild with the same routes.
	dctx, dcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	write("v2", "")
	waitFor(t, "the rebuild to serve v2", 90*time.Second, func() bool { return ask(url) == "v2" })
	if err := c.Write(dctx, websocket.MessageText, []byte(`{"action":"version"}`)); err != nil {
		t.Fatalf("the connection opened before the rebuild: %v", err)
	}
	if _, data, err := c.Read(dctx); err != nil || string(data) != "v2" {
		t.Fatalf("the connection opened before the rebuild got %q, %v", data, err)
	}
	if !strings.Contains(stderr.String(), "connections stay open") {
		t.Errorf("stderr does not report the code update:\n%s", stderr.String())
	}

	// New routes restart the API.
	write("v3", `framework.Handle(app, "extra", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		return c.ReplyText(ctx, "EXTRA")
	}, &framework.RouteOptions{TwoWay: true})`)
	waitFor(t, "the new route", 90*time.Second, func() bool { return askFrame(url, `{"action":"extra"}`) == "EXTRA" })
	if !strings.Contains(stderr.String(), "the routes changed, so the API restarts") {
		t.Errorf("stderr does not report the restart:\n%s", stderr.String())
	}
	stop()
	if !strings.Contains(stderr.String(), "invocations, 0 failed; cold p50") {
		t.Errorf("no summary at exit:\n%s", stderr.String())
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
