package bootstrap_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mulletgo/mullet/bootstrap"
)

func TestBuildErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "bootstrap")
	if err := bootstrap.Build(ctx, "testdata/nope", out, nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("missing dir: %v", err)
	}
	if err := bootstrap.Build(ctx, "testdata/broken", out, nil); err == nil || !strings.Contains(err.Error(), "go build of") || !strings.Contains(err.Error(), "undefined") {
		t.Errorf("broken package: %v", err)
	}
	if err := bootstrap.Build(ctx, "testdata/notmain", out, nil); err == nil || !strings.Contains(err.Error(), "not a main package") {
		t.Errorf("not a main package: %v", err)
	}
}
