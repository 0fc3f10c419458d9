package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/mulletgo/mullet/local/dynalite"
)

// The dependencies of the mullet module this program was built from, copied
// from the repository root; TestDependenciesMatchRepository keeps them in
// sync.
//
//go:generate cp ../../../../go.mod mullet.go.mod
//go:generate cp ../../../../go.sum mullet.go.sum
var (
	//go:embed mullet.go.mod
	mulletGoMod []byte
	//go:embed mullet.go.sum
	mulletGoSum []byte
)

//go:embed templates
var templates embed.FS

// MulletModule is the module path of mullet.
const MulletModule = "github.com/mulletgo/mullet"

// CDKCLIVersion is the version of the AWS CDK CLI (npm package aws-cdk)
// that reads what mullet's CDK library version writes; a project's
// package.json pins it.
const CDKCLIVersion = "2.1148.1"

// Project describes the project to write.
type Project struct {
	// Name is the app's name: the name given to framework.New, the
	// default module path, and the CDK stack's name in CamelCase. See
	// CheckName.
	Name string
	// Module is the module path. Default Name.
	Module string
	// MulletVersion is the version of github.com/mulletgo/mullet the
	// project requires.
	MulletVersion string
	// MulletCheckout, if set, is a local checkout of mullet that a
	// replace directive points the project at; its go.mod and go.sum
	// then give the dependency versions.
	MulletCheckout string
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// CheckName reports whether name can name a project: lowercase letters,
// digits, '-' and '_', starting with a letter, at most 64 bytes. The error
// says how to fix it.
func CheckName(name string) error {
	if nameRE.MatchString(name) && len(name) <= 64 {
		return nil
	}
	msg := fmt.Sprintf("NAME %q is not a valid project name: use lowercase letters, digits, - and _, starting with a letter, at most 64 characters; e.g. hello or chat-relay", name)
	if strings.ContainsAny(name, "/.") {
		msg += "; to choose the module path, give a short NAME and -module " + name
	}
	return errors.New(msg)
}

// CheckModulePath reports whether path is a valid module path for a new
// project (what `go mod init` accepts).
func CheckModulePath(path string) error {
	if err := module.CheckImportPath(path); err != nil {
		return fmt.Errorf("-module %q is not a valid module path (%v); use a path like example.com/you/hello or just hello", path, errors.Unwrap(err))
	}
	return nil
}

// CheckCheckout reports whether dir is a checkout of the mullet module.
func CheckCheckout(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return fmt.Errorf("%s is not a mullet checkout: %v", dir, errors.Unwrap(err))
	}
	if p := modfile.ModulePath(data); p != MulletModule {
		return fmt.Errorf("%s is not a mullet checkout: its go.mod declares module %q, not %s", dir, p, MulletModule)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err != nil {
		return fmt.Errorf("%s has no go.sum", dir)
	}
	return nil
}

// CheckTarget reports whether dir can receive a project: it does not exist
// or is an empty directory.
func CheckTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		if info, serr := os.Stat(dir); serr == nil && !info.IsDir() {
			return fmt.Errorf("%s is a file; choose another directory with -dir", dir)
		}
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("directory %s is not empty (it has %s); choose another with -dir, or another NAME", dir, entries[0].Name())
	}
	return nil
}

// data is what the templates see.
type data struct {
	Project
	StackName     string
	CDKCLIVersion string
	// DynaliteVersion is the npm package dynalite's, which mullet dev
	// -store dynamodb runs.
	DynaliteVersion string
	MulletModule    string
	// Binary is what `go build` names the main package's executable.
	Binary string
}

// Write writes the project into dir, which must not exist or be empty, and
// returns the files written, relative to dir. If it fails it removes what
// it wrote.
func Write(dir string, p Project) (files []string, err error) {
	if p.Module == "" {
		p.Module = p.Name
	}
	if err := CheckName(p.Name); err != nil {
		return nil, err
	}
	if err := CheckModulePath(p.Module); err != nil {
		return nil, err
	}
	if err := CheckTarget(dir); err != nil {
		return nil, err
	}
	goMod, goSum := mulletGoMod, mulletGoSum
	if p.MulletCheckout != "" {
		if err := CheckCheckout(p.MulletCheckout); err != nil {
			return nil, err
		}
		if goMod, err = os.ReadFile(filepath.Join(p.MulletCheckout, "go.mod")); err != nil {
			return nil, err
		}
		if goSum, err = os.ReadFile(filepath.Join(p.MulletCheckout, "go.sum")); err != nil {
			return nil, err
		}
	}
	out := map[string][]byte{"go.sum": goSum}
	if out["go.mod"], err = projectGoMod(dir, p, goMod); err != nil {
		return nil, err
	}
	d := data{Project: p, StackName: camel(p.Name), CDKCLIVersion: CDKCLIVersion, DynaliteVersion: dynalite.Version, MulletModule: MulletModule, Binary: binaryName(p.Module)}
	err = fs.WalkDir(templates, "templates", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		src, err := templates.ReadFile(name)
		if err != nil {
			return err
		}
		t, err := template.New(name).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".tmpl")
		if path.Base(rel) == "gitignore" {
			rel = path.Join(path.Dir(rel), ".gitignore")
		}
		content := b.Bytes()
		if strings.HasSuffix(rel, ".go") {
			if content, err = format.Source(content); err != nil {
				return fmt.Errorf("template %s: %v", name, err)
			}
		}
		out[rel] = content
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scaffold: %w", err)
	}

	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, fs.ErrNotExist)
	defer func() {
		if err != nil {
			if created {
				os.RemoveAll(dir)
			} else {
				for _, f := range files {
					os.Remove(filepath.Join(dir, f))
				}
			}
			files = nil
		}
	}()
	for rel := range out {
		files = append(files, rel)
	}
	sort.Strings(files)
	for _, rel := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return files, err
		}
		if err := os.WriteFile(p, out[rel], 0o644); err != nil {
			return files, err
		}
	}
	return files, nil
}

// projectGoMod returns the project's go.mod: mullet and the modules the
// project imports directly, then every other requirement of mullet's go.mod
// at the same version, so that the build uses exactly the versions mullet
// is tested with and needs nothing that is not in the module cache.
func projectGoMod(dir string, p Project, mulletMod []byte) ([]byte, error) {
	src, err := modfile.Parse("go.mod", mulletMod, nil)
	if err != nil {
		return nil, fmt.Errorf("mullet's go.mod: %w", err)
	}
	direct := map[string]bool{
		"github.com/aws/aws-cdk-go/awscdk/v2": true,
		"github.com/aws/jsii-runtime-go":      true,
	}
	f := new(modfile.File)
	if err := f.AddModuleStmt(p.Module); err != nil {
		return nil, err
	}
	goVersion := "1.26"
	if src.Go != nil {
		goVersion = src.Go.Version
	}
	if err := f.AddGoStmt(goVersion); err != nil {
		return nil, err
	}
	reqs := []*modfile.Require{{Mod: module.Version{Path: MulletModule, Version: p.MulletVersion}}}
	for _, r := range src.Require {
		reqs = append(reqs, &modfile.Require{Mod: r.Mod, Indirect: !direct[r.Mod.Path]})
	}
	f.SetRequireSeparateIndirect(reqs)
	if p.MulletCheckout != "" {
		target, err := replacePath(dir, p.MulletCheckout)
		if err != nil {
			return nil, err
		}
		if err := f.AddReplace(MulletModule, "", target, ""); err != nil {
			return nil, err
		}
	}
	f.Cleanup()
	return modfile.Format(f.Syntax), nil
}

// replacePath returns checkout as a replace directive's target: relative
// to the project directory when it is at most two levels up (../mullet),
// else absolute.
func replacePath(dir, checkout string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absCheckout, err := filepath.Abs(checkout)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(absDir, absCheckout)
	if err != nil || strings.Count(filepath.ToSlash(rel)+"/", "../") > 2 {
		return absCheckout, nil
	}
	rel = filepath.ToSlash(rel)
	if rel != ".." && !strings.HasPrefix(rel, "../") {
		rel = "./" + rel
	}
	return rel, nil
}

// binaryName is the name go build gives the executable of module path's
// root package: its last element, skipping a major version suffix.
func binaryName(modulePath string) string {
	prefix, _, ok := module.SplitPathVersion(modulePath)
	if !ok {
		prefix = modulePath
	}
	return path.Base(prefix)
}

// camel turns a project name into a CamelCase identifier: chat-relay ->
// ChatRelay.
func camel(name string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
