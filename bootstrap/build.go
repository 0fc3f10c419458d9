package bootstrap

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/manifest"
)

// Options chooses what Build builds. nil means a Lambda bootstrap for this
// machine.
type Options struct {
	// GOOS and GOARCH are the target; empty means this machine's. AWS
	// Lambda's provided.al2023 runtime on arm64 is "linux", "arm64".
	GOOS, GOARCH string
	// Local builds the binary that serves locally (mullet.Main behind the
	// emulator): without -tags lambda.norpc, as mullet dev runs an app in
	// its own process.
	Local bool
}

// buildArgs returns the go build arguments Build uses for opts, before "-o".
func buildArgs(opts *Options) []string {
	if opts != nil && opts.Local {
		return []string{"build"}
	}
	return []string{"build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w"}
}

// Build compiles the main package in dir into the executable out. go must
// be on PATH. A failed build returns the compiler's output; a directory
// that is missing or holds no main package is an error that says so.
func Build(ctx context.Context, dir, out string, opts *Options) error {
	var o Options
	if opts != nil {
		o = *opts
	}
	src, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("bootstrap: build %s: %w", dir, err)
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return fmt.Errorf("bootstrap: build: main package directory %s is not a directory", dir)
	}
	bin, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("bootstrap: build %s: %w", dir, err)
	}
	// A stale executable must not pass for this build's.
	if err := os.Remove(bin); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bootstrap: build %s: %w", dir, err)
	}
	cmd := exec.CommandContext(ctx, "go", append(buildArgs(&o), "-o", bin, ".")...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	target := "this machine"
	if o.GOOS != "" {
		cmd.Env = append(cmd.Env, "GOOS="+o.GOOS)
	}
	if o.GOARCH != "" {
		cmd.Env = append(cmd.Env, "GOARCH="+o.GOARCH)
	}
	if o.GOOS != "" || o.GOARCH != "" {
		target = o.GOOS + "/" + o.GOARCH
	}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("bootstrap: go build of %s for %s failed:\n%s", src, target, strings.TrimSpace(output.String()))
		}
		return fmt.Errorf("bootstrap: go build of %s: %w (is the go command on PATH?)", src, err)
	}
	// go build -o of a non-main package writes an archive, which Lambda
	// would only reject at the first invocation.
	if _, err := buildinfo.ReadFile(bin); err != nil {
		return fmt.Errorf("bootstrap: %s is not a main package: go build wrote no executable", src)
	}
	return nil
}

// ReadManifest runs the built binary bin with MULLET_PRINT_MANIFEST set,
// which mullet.Main answers with the app's manifest, and decodes it. It
// returns the manifest and its encoding as printed.
func ReadManifest(ctx context.Context, bin string) (*manifest.Manifest, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{runtimeenv.PrintManifest + "=1"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("reading the app's routes (%s=1 %s): %v\n%s", runtimeenv.PrintManifest, bin, err, stderr.String())
	}
	m, err := manifest.Decode(stdout.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("the app printed no manifest with %s=1; does its main call mullet.Main? %v", runtimeenv.PrintManifest, err)
	}
	return m, stdout.Bytes(), nil
}
