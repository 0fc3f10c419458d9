package lambdaruntime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles the main package in dir into the executable out, for the
// local OS and architecture, the way a bootstrap is built for Lambda:
// without cgo and with the lambda.norpc tag (aws-lambda-go's unused net/rpc
// mode left out). go must be on PATH. A failed build returns the compiler's
// output.
func Build(ctx context.Context, dir, out string) error {
	src, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("lambdaruntime: build %s: %w", dir, err)
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return fmt.Errorf("lambdaruntime: build: %s is not a directory", dir)
	}
	bin, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("lambdaruntime: build %s: %w", dir, err)
	}
	// A stale executable must not pass for this build's.
	if err := os.Remove(bin); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lambdaruntime: build %s: %w", dir, err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("lambdaruntime: go build of %s failed:\n%s", src, strings.TrimSpace(output.String()))
		}
		return fmt.Errorf("lambdaruntime: go build of %s: %w (is the go command on PATH?)", src, err)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("lambdaruntime: go build of %s wrote no executable: %w", src, err)
	}
	if fi.Mode()&0o111 == 0 {
		// go build -o of a non-main package writes an archive.
		return fmt.Errorf("lambdaruntime: %s is not a main package: go build wrote no executable", src)
	}
	return nil
}
