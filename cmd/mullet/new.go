package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/mulletgo/mullet/cmd/mullet/internal/scaffold"
)

func runNew(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("new", `mullet new [-module PATH] [-dir DIR] [-mullet-checkout DIR] NAME

Creates a project in ./NAME (or -dir): an app package with one typed
two-way route ("echo") and per-connection state, a main package that runs in
AWS Lambda and locally, an end-to-end test, a CDK app in cdk/, a README.
go.mod requires mullet `+version+` and pins every dependency to the versions
mullet is tested with; go.sum covers them all.

NAME: lowercase letters, digits, - and _, starting with a letter.`, stderr)
	module := fs.String("module", "", "the module path, e.g. github.com/you/NAME; default NAME")
	dir := fs.String("dir", "", "the directory to create the project in; it must not exist or be empty; default ./NAME")
	checkout := fs.String("mullet-checkout", "", "a local checkout of mullet to build against (a replace directive in go.mod), instead of the published "+version)
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		if fs.NArg() == 0 {
			fmt.Fprintf(stderr, "mullet new: missing NAME, the project's name; e.g. mullet new hello\n")
		} else {
			fmt.Fprintf(stderr, "mullet new: one NAME expected, got %q; put flags before or after it, e.g. mullet new -module example.com/you/hello hello\n", fs.Args())
		}
		return 2
	}
	p := scaffold.Project{Name: fs.Arg(0), Module: *module, MulletVersion: version}
	if err := scaffold.CheckName(p.Name); err != nil {
		fmt.Fprintf(stderr, "mullet new: %v\n", err)
		return 2
	}
	if p.Module != "" {
		if err := scaffold.CheckModulePath(p.Module); err != nil {
			fmt.Fprintf(stderr, "mullet new: %v\n", err)
			return 2
		}
	}
	if *checkout != "" {
		abs, err := filepath.Abs(*checkout)
		if err != nil {
			fmt.Fprintf(stderr, "mullet new: -mullet-checkout: %v\n", err)
			return 2
		}
		if err := scaffold.CheckCheckout(abs); err != nil {
			fmt.Fprintf(stderr, "mullet new: -mullet-checkout: %v\n", err)
			return 2
		}
		p.MulletCheckout = abs
	}
	target := *dir
	if target == "" {
		target = p.Name
	}
	if err := scaffold.CheckTarget(target); err != nil {
		fmt.Fprintf(stderr, "mullet new: %v\n", err)
		return 1
	}
	files, err := scaffold.Write(target, p)
	if err != nil {
		fmt.Fprintf(stderr, "mullet new: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "created %s in %s:\n", p.Name, target)
	for _, f := range files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	cd := target
	if strings.ContainsAny(cd, " \t'\"") {
		cd = "'" + strings.ReplaceAll(cd, "'", `'\''`) + "'"
	}
	fmt.Fprintf(stdout, "\nNext:\n  cd %s\n", cd)
	if p.MulletCheckout == "" && strings.Contains(version, "-") {
		fmt.Fprintf(stdout, "  # mullet %s is a development build, not a published version: rerun\n  # mullet new with -mullet-checkout DIR (a mullet checkout) to build against it.\n", version)
	} else if p.MulletCheckout == "" {
		fmt.Fprintf(stdout, "  go mod download %s   # once: fetch mullet and record its checksum\n", scaffold.MulletModule)
	}
	fmt.Fprintf(stdout, "  go run %s/cmd/mullet dev .   # serve locally, rebuild on change\n  go test ./...\n", scaffold.MulletModule)
	return 0
}
