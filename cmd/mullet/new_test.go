package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mulletgo/mullet/internal/syncbuf"
)

// repoRoot returns the mullet checkout this test runs in: the nearest
// directory above with a go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func TestNewErrors(t *testing.T) {
	root := repoRoot(t)
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "main.go"), []byte("package main\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing NAME", []string{"new"}, 2, "missing NAME"},
		{"two NAMEs", []string{"new", "a", "b"}, 2, "one NAME expected"},
		{"NAME not an identifier", []string{"new", "Hello World"}, 2, `NAME "Hello World" is not a valid project name: use lowercase letters`},
		{"NAME a module path", []string{"new", "github.com/you/hello"}, 2, "give a short NAME and -module github.com/you/hello"},
		{"bad module path", []string{"new", "-module", "example.com//hello", "hello"}, 2, `-module "example.com//hello" is not a valid module path (double slash)`},
		{"directory not empty", []string{"new", "-dir", full, "hello"}, 1, "directory " + full + " is not empty (it has main.go); choose another with -dir"},
		{"not a mullet checkout", []string{"new", "-dir", t.TempDir(), "-mullet-checkout", full, "hello"}, 2, "is not a mullet checkout"},
		{"bad flag", []string{"new", "-modul", "x", "hello"}, 2, "did you mean -module?"},
		{"help", []string{"new", "-h"}, 0, "Usage: mullet new"},
		{"happy path", []string{"new", "-dir", filepath.Join(t.TempDir(), "x"), "-mullet-checkout", root, "hello"}, 0, "go run github.com/mulletgo/mullet/cmd/mullet dev ."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, tt.code, stdout, stderr, tt.want)
			}
		})
	}
}

// TestNewProjectEndToEnd creates a project the way a new user does, then
// in it: builds everything, runs its tests, serves it with the README's
// mullet dev command and talks to it, and synthesizes its CloudFormation
// template with the real cdk CLI. It works offline (GOPROXY=off): the
// project's go.mod and go.sum pin exactly what is in the module cache.
func TestNewProjectEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the scaffold end-to-end test (it compiles a CDK program)")
	}
	root := repoRoot(t)
	start := time.Now()
	step := func(name string, since time.Time) { t.Logf("%-34s %6.1fs", name, time.Since(since).Seconds()) }

	dir := filepath.Join(t.TempDir(), "hello")
	code, stdout, stderr := runCLI(t, "new", "-module", "example.com/hello", "-mullet-checkout", root, "-dir", dir, "hello")
	if code != 0 {
		t.Fatalf("mullet new: exit %d\n%s%s", code, stdout, stderr)
	}
	readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	for _, cmd := range []string{"    go run github.com/mulletgo/mullet/cmd/mullet dev .\n", "    go test ./...\n"} {
		if !bytes.Contains(readme, []byte(cmd)) {
			t.Fatalf("the project's README lacks its set-up command %q", cmd)
		}
	}
	// Offline, and go.mod must need no change.
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "-mod=readonly")
	goCmd := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		return cmd
	}

	// Generous bounds: cold, on 2 cores, compiling the CDK bindings takes
	// minutes; with the build cache of `go vet ./...` it takes seconds.
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if out, err := goCmd(ctx, "build", "./...").CombinedOutput(); err != nil {
		t.Fatalf("go build ./... in the new project: %v\n%s", err, out)
	}
	step("go build ./... (with the CDK app)", t0)

	t0 = time.Now()
	out, err := goCmd(ctx, "test", "./...").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok  \texample.com/hello/app") {
		t.Fatalf("go test ./... in the new project: %v\n%s", err, out)
	}
	step("go test ./...", t0)

	t.Run("dev", func(t *testing.T) {
		t0 := time.Now()
		addr := freeAddr(t)
		url := "ws://" + addr + "/local"
		cmd := goCmd(context.Background(), "run", "github.com/mulletgo/mullet/cmd/mullet", "dev", "-addr", addr, ".")
		var devOut, devErr syncbuf.Buffer
		cmd.Stdout, cmd.Stderr = &devOut, &devErr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				t.Errorf("mullet dev did not stop on SIGTERM")
			}
		})
		waitFor(t, "mullet dev to serve "+url, 2*time.Minute, func() bool {
			select {
			case err := <-done:
				t.Fatalf("mullet dev exited: %v\nstdout: %s\nstderr: %s", err, devOut.String(), devErr.String())
			default:
			}
			return strings.Contains(devOut.String(), "websocket:    "+url)
		})
		step("mullet dev: first build and serve", t0)
		code, stdout, stderr := runCLI(t, "connect", url, "-send", `{"action":"echo","text":"hello"}`, "-send", `{"action":"echo","text":"again"}`, "-wait", "500ms")
		// The frames are invoked concurrently, as API Gateway does: the
		// replies may come in either order, but no update of the count is
		// lost.
		if code != 0 || !(containsInOrder(stdout, []string{`< {"text":"hello","count":1}`, `< {"text":"again","count":2}`}) ||
			containsInOrder(stdout, []string{`< {"text":"again","count":1}`, `< {"text":"hello","count":2}`})) {
			t.Fatalf("mullet connect: exit %d\nstdout: %s\nstderr: %s\ndev stdout: %s\ndev stderr: %s", code, stdout, stderr, devOut.String(), devErr.String())
		}
		// Its stdout is not a terminal: one JSON line per invocation.
		waitFor(t, "the invocation log", 5*time.Second, func() bool {
			return strings.Contains(devOut.String(), `"route":"echo",`) && strings.Contains(devOut.String(), `"route":"$connect",`)
		})
		t.Logf("mullet dev printed:\n%s", devOut.String())
	})

	t.Run("synth", func(t *testing.T) {
		t0 := time.Now()
		need(t, "node", "install node 20 or later")
		cdk := filepath.Join(root, "node_modules", ".bin", "cdk")
		if _, err := os.Stat(cdk); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (CI=true): run npm ci at the repository root", cdk)
			}
			t.Skipf("%s is missing: run npm ci at the repository root", cdk)
		}
		t.Setenv("CDK_DISABLE_VERSION_CHECK", "true") // no npm registry look-up
		t.Setenv("CDK_DISABLE_CLI_TELEMETRY", "true")
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // no instance metadata probe
		var out, errOut syncbuf.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if code := run(ctx, []string{"synth", "-cdk", cdk, dir}, &out, &errOut); code != 0 {
			t.Fatalf("mullet synth: exit %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
		}
		step("mullet synth", t0)
		template := filepath.Join(dir, "cdk", "cdk.out", "Hello.template.json")
		if !strings.Contains(out.String(), template) {
			t.Fatalf("mullet synth does not name %s:\n%s", template, out.String())
		}
		data, err := os.ReadFile(template)
		if err != nil {
			t.Fatal(err)
		}
		var tmpl struct {
			Resources map[string]struct {
				Type       string
				Properties map[string]any
			}
		}
		if err := json.Unmarshal(data, &tmpl); err != nil {
			t.Fatal(err)
		}
		routes := map[string]bool{}
		for _, r := range tmpl.Resources {
			if r.Type == "AWS::ApiGatewayV2::Route" {
				routes[r.Properties["RouteKey"].(string)] = true
			}
		}
		if !routes["echo"] {
			t.Fatalf("the template has routes %v, not echo", routes)
		}
	})
	step("total", start)
}
