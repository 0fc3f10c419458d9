package infra

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// buildBootstrap builds the Go main package in mainDir for Lambda's
// provided.al2023 runtime on arm64 into outDir/bootstrap, leaving nothing
// else in outDir. The flags make the binary a function of the source and the
// toolchain only: -trimpath drops local paths, -buildvcs=false the VCS state,
// -s -w the symbol and debug tables; lambda.norpc drops aws-lambda-go's
// unused net/rpc mode.
func buildBootstrap(mainDir, outDir string) error {
	src, err := filepath.Abs(mainDir)
	if err != nil {
		return fmt.Errorf("main package directory %q: %w", mainDir, err)
	}
	if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
		return fmt.Errorf("main package directory %q (%s) is not a directory", mainDir, src)
	}
	out, err := filepath.Abs(outDir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(out, "bootstrap")
	cmd := exec.Command("go", "build",
		"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w",
		"-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("go build of %s for linux/arm64 failed:\n%s", src, strings.TrimSpace(output.String()))
		}
		return fmt.Errorf("go build of %s: %w (is the go command on PATH?)", src, err)
	}
	// go build -o of a non-main package writes an archive, which Lambda
	// would only reject at the first invocation.
	if err := checkELF(bin); err != nil {
		return fmt.Errorf("%s is not a main package: %w", src, err)
	}
	return nil
}

func checkELF(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || !bytes.Equal(magic, []byte("\x7fELF")) {
		return errors.New("go build did not produce an executable")
	}
	return nil
}
