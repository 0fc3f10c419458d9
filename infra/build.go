package infra

import (
	"context"
	"os"
	"path/filepath"

	"github.com/mulletgo/mullet/bootstrap"
)

// buildLambda builds the Go main package in mainDir for Lambda's
// provided.al2023 runtime on arm64 into outDir/bootstrap, leaving nothing
// else in outDir.
func buildLambda(mainDir, outDir string) error {
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
	return bootstrap.Build(context.Background(), mainDir, filepath.Join(out, "bootstrap"), &bootstrap.Options{GOOS: "linux", GOARCH: "arm64"})
}
