package scaffold

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/mulletgo/mullet/local/dynalite"
)

// TestDependenciesMatchRepository keeps the embedded copies of mullet's
// go.mod and go.sum equal to the repository's, which is what a project
// created without -mullet-checkout is pinned to.
func TestDependenciesMatchRepository(t *testing.T) {
	for _, c := range []struct {
		repo     string
		embedded []byte
	}{{"go.mod", mulletGoMod}, {"go.sum", mulletGoSum}} {
		want, err := os.ReadFile(filepath.Join("..", "..", "..", "..", c.repo))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.embedded, want) {
			t.Errorf("cmd/mullet/internal/scaffold/mullet.%s differs from the repository's %s: run go generate ./cmd/mullet/internal/scaffold", c.repo, c.repo)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"hello", "chat-relay", "a1", "my_app"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for name, want := range map[string]string{
		"":                      "not a valid project name",
		"Hello":                 "use lowercase letters",
		"1st":                   "starting with a letter",
		"my app":                "not a valid project name",
		"-x":                    "not a valid project name",
		"github.com/you/hello":  "give a short NAME and -module github.com/you/hello",
		strings.Repeat("a", 65): "at most 64",
	} {
		if err := CheckName(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckName(%q) = %v, want an error containing %q", name, err, want)
		}
	}
}

func TestCheckModulePath(t *testing.T) {
	for _, ok := range []string{"hello", "example.com/you/hello", "github.com/you/hello/v2"} {
		if err := CheckModulePath(ok); err != nil {
			t.Errorf("CheckModulePath(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a//b", "/abs", "a b", "hello/", "-x", "example.com/a:b"} {
		if err := CheckModulePath(bad); err == nil || !strings.Contains(err.Error(), "is not a valid module path") {
			t.Errorf("CheckModulePath(%q) = %v", bad, err)
		}
	}
}

func TestCheckTarget(t *testing.T) {
	dir := t.TempDir()
	if err := CheckTarget(filepath.Join(dir, "new")); err != nil {
		t.Errorf("a directory that does not exist: %v", err)
	}
	if err := CheckTarget(dir); err != nil {
		t.Errorf("an empty directory: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)
	if err := CheckTarget(dir); err == nil || !strings.Contains(err.Error(), "is not empty (it has notes.txt); choose another with -dir") {
		t.Errorf("a directory with a file: %v", err)
	}
	if err := CheckTarget(filepath.Join(dir, "notes.txt")); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("a file: %v", err)
	}
}

func TestReplacePath(t *testing.T) {
	root := t.TempDir()
	for _, tt := range []struct{ dir, checkout, want string }{
		{"work/hello", "work/mullet", "../mullet"},
		{"mullet/examples/hello", "mullet", "../.."},
		{"a/b/c/hello", "mullet", filepath.Join(root, "mullet")},
		{"mullet/hello", "mullet", ".."},
	} {
		got, err := replacePath(filepath.Join(root, tt.dir), filepath.Join(root, tt.checkout))
		if err != nil || got != tt.want {
			t.Errorf("replacePath(%s, %s) = %q, %v; want %q", tt.dir, tt.checkout, got, err, tt.want)
		}
	}
}

func TestBinaryName(t *testing.T) {
	for in, want := range map[string]string{"hello": "hello", "example.com/you/relay": "relay", "example.com/you/relay/v2": "relay"} {
		if got := binaryName(in); got != want {
			t.Errorf("binaryName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCamel(t *testing.T) {
	for in, want := range map[string]string{"hello": "Hello", "chat-relay": "ChatRelay", "my_app-2": "MyApp2"} {
		if got := camel(in); got != want {
			t.Errorf("camel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWrite(t *testing.T) {
	checkout, err := filepath.Abs(filepath.Join("..", "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, withCheckout := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "chat-relay")
		p := Project{Name: "chat-relay", Module: "example.com/you/chat-relay", MulletVersion: "v1.2.3"}
		if withCheckout {
			p.MulletCheckout = checkout
		}
		files, err := Write(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{".gitignore", "README.md", "app/app.go", "app/app_test.go", "cdk/cdk.json", "cdk/main.go", "go.mod", "go.sum", "main.go", "package.json"}
		if strings.Join(files, " ") != strings.Join(want, " ") {
			t.Fatalf("files %q, want %q", files, want)
		}
		read := func(name string) string {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return string(data)
		}
		f, err := modfile.Parse("go.mod", []byte(read("go.mod")), nil)
		if err != nil {
			t.Fatal(err)
		}
		mullet, _ := modfile.Parse("go.mod", mulletGoMod, nil)
		if f.Module.Mod.Path != p.Module || f.Go.Version != mullet.Go.Version {
			t.Fatalf("go.mod: module %q, go %q; want mullet's go %q", f.Module.Mod.Path, f.Go.Version, mullet.Go.Version)
		}
		versions := map[string]string{}
		for _, r := range f.Require {
			versions[r.Mod.Path] = r.Mod.Version
		}
		if versions[MulletModule] != "v1.2.3" {
			t.Fatalf("go.mod requires mullet %q", versions[MulletModule])
		}
		for _, r := range mullet.Require {
			if versions[r.Mod.Path] != r.Mod.Version {
				t.Errorf("go.mod requires %s %q; mullet pins %s", r.Mod.Path, versions[r.Mod.Path], r.Mod.Version)
			}
		}
		if withCheckout != (len(f.Replace) == 1) || (withCheckout && (f.Replace[0].Old.Path != MulletModule || f.Replace[0].New.Path != checkout)) {
			t.Fatalf("go.mod replace directives: %+v", f.Replace)
		}
		if read("go.sum") != string(mulletGoSum) {
			t.Errorf("go.sum is not mullet's")
		}
		for name, want := range map[string]string{
			"app/app.go":  `framework.New[State]("chat-relay", nil)`,
			"main.go":     `"example.com/you/chat-relay/app"`,
			"cdk/main.go": `infra.Synth("ChatRelay", `,
			"package.json": `"aws-cdk": "` + CDKCLIVersion + `",
    "dynalite": "` + dynalite.Version + `"`,
			"README.md":  "    go run github.com/mulletgo/mullet/cmd/mullet dev .\n\nRun the tests:\n\n    go test ./...\n",
			".gitignore": "/chat-relay\n",
		} {
			if !strings.Contains(read(name), want) {
				t.Errorf("%s lacks %q:\n%s", name, want, read(name))
			}
		}
		// Writing again into the now non-empty directory fails.
		if _, err := Write(dir, p); err == nil || !strings.Contains(err.Error(), "is not empty") {
			t.Fatalf("second Write: %v", err)
		}
	}
}
