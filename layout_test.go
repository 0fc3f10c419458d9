package mullet_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const module = "github.com/mulletgo/mullet"

// TestLambdaBuildLinks checks the picture in docs/architecture.md: the
// packages of this module that a Lambda build of each example links
// (go list -deps -tags lambda.norpc) are exactly the ones listed there as
// shipping in a Lambda binary, and none of the dev-time or test-time
// packages or dependencies are among them.
func TestLambdaBuildLinks(t *testing.T) {
	shipped := documentedLambdaPackages(t)
	neverShipped := []string{
		module + "/local", module + "/local/dashboard", module + "/local/otlpreceiver", module + "/mullettest", module + "/bootstrap", module + "/internal",
		module + "/infra", module + "/cmd", module + "/cost", module + "/asyncapi", module + "/client",
		"github.com/coder/websocket", "github.com/gobwas/ws", "github.com/aws/aws-sdk-go-v2/config",
		"github.com/aws/aws-cdk-go", "github.com/aws/jsii-runtime-go",
	}
	for _, main := range []string{"./examples/rendezvous", "./examples/chat"} {
		t.Run(main, func(t *testing.T) {
			deps := goList(t, "-deps", "-tags", "lambda.norpc", main)
			var ours []string
			for _, p := range deps {
				for _, never := range neverShipped {
					if p == never || strings.HasPrefix(p, never+"/") {
						t.Errorf("the Lambda build of %s links %s, a package that must never ship in a Lambda binary", main, p)
					}
				}
				if rest, ok := strings.CutPrefix(p, module); ok && !strings.HasPrefix(rest, "/examples/") {
					ours = append(ours, "."+rest)
				}
			}
			slices.Sort(ours)
			if !slices.Equal(ours, shipped) {
				t.Errorf("the Lambda build of %s links\n  %s\nbut docs/architecture.md lists\n  %s\nUpdate the picture or the imports.",
					main, strings.Join(ours, "\n  "), strings.Join(shipped, "\n  "))
			}
		})
	}
}

// documentedLambdaPackages reads the list between the lambda-packages
// markers of docs/architecture.md: one `./path` a line.
func documentedLambdaPackages(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(doc, []byte("<!-- lambda-packages -->"))
	block, _, ok2 := bytes.Cut(rest, []byte("<!-- /lambda-packages -->"))
	if !ok || !ok2 {
		t.Fatal("docs/architecture.md lacks the <!-- lambda-packages --> ... <!-- /lambda-packages --> block")
	}
	var pkgs []string
	for _, m := range regexp.MustCompile("`(\\.(?:/[a-z0-9]+)*)`").FindAllSubmatch(block, -1) {
		pkgs = append(pkgs, string(m[1]))
	}
	slices.Sort(pkgs)
	return slices.Compact(pkgs)
}

// TestNoFolderDominates keeps the layout from collapsing back into one
// folder: no top-level folder holds more than 35% of the module's non-test
// Go lines (testdata and node_modules excluded). Go itself refuses import
// cycles, so the other half of the layout rule needs no test.
func TestNoFolderDominates(t *testing.T) {
	lines := map[string]int{}
	total := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", "testdata", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n := bytes.Count(data, []byte("\n"))
		top, _, _ := strings.Cut(filepath.ToSlash(path), "/")
		if !strings.Contains(filepath.ToSlash(path), "/") {
			top = "(root)"
		}
		lines[top] += n
		total += n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, n := range lines {
		share := float64(n) / float64(total)
		t.Logf("%-12s %6d lines  %4.1f%%", dir, n, 100*share)
		if share > 0.35 {
			t.Errorf("%s holds %.1f%% of the non-test Go lines (%d of %d); the limit is 35%%: split it along its jobs", dir, 100*share, n, total)
		}
	}
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list %v: %v\n%s", args, err, stderr)
	}
	var pkgs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		pkgs = append(pkgs, sc.Text())
	}
	return pkgs
}
