package infra_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cfnLintVersion is the cfn-lint (CloudFormation's own linter, a Python
// package with the resource provider schemas of its release) that
// cfnLintVersion is the cfn-lint (CloudFormation's own linter, a Python
// package that carries the resource provider schemas of its release) that
// the tests run; .ci/run installs it when the machine lacks it.
const cfnLintVersion = "1.51.0"

// cfnLintFinding is one finding of cfn-lint's JSON output.
type cfnLintFinding struct {
	Level    string // Error, Warning or Informational
	Message  string
	Filename string
	Rule     struct{ Id string }
}

func (f cfnLintFinding) String() string {
	return filepath.Base(f.Filename) + ": " + f.Rule.Id + " " + f.Message
}

// checkCfnLint runs cfn-lint once on template files and on broken, a
// template file for each mistake cfn-lint must report, by its rule ID. It
// fails t on any error in files, and unless each broken file has exactly
// its error; warnings and informational findings are logged.
func checkCfnLint(t *testing.T, files []string, broken map[string]string) {
	t.Helper()
	if len(files) == 0 {
		t.Skip("no templates were synthesized")
	}
	start := time.Now()
	findings := cfnLint(t, append(append([]string(nil), files...), sortedKeys(broken)...)...)
	errors, others, brokenErrors := 0, 0, map[string][]string{}
	for _, f := range findings {
		switch {
		case broken[f.Filename] != "":
			if f.Level == "Error" {
				brokenErrors[f.Filename] = append(brokenErrors[f.Filename], f.Rule.Id)
			}
		case f.Level == "Error":
			errors++
			t.Errorf("cfn-lint %s", f)
		default:
			others++
			t.Logf("cfn-lint %s: %s", strings.ToLower(f.Level), f)
		}
	}
	for file, rule := range broken {
		if got := brokenErrors[file]; len(got) != 1 || got[0] != rule {
			t.Errorf("cfn-lint on %s: errors %v, want [%s]", filepath.Base(file), got, rule)
		}
	}
	t.Logf("cfn-lint %s: %d templates, %d errors, %d other findings; %d broken templates; %s",
		cfnLintVersion, len(files), errors, others, len(broken), time.Since(start).Round(100*time.Millisecond))
}

// cfnLintMistakes writes into dir a copy of base broken in each of three
// ways cfn-lint must report: an unknown property (E3002), a missing
// required property (E3003), a GetAtt of an attribute the type lacks
// (E1010). It returns the files and their rule IDs.
func cfnLintMistakes(t *testing.T, base cfn, dir string) map[string]string {
	t.Helper()
	tests := []struct {
		name   string
		break_ func(c cfn)
		rule   string
	}{
		{"broken-unknown-property", func(c cfn) {
			resourceProps(t, c, "AWS::ApiGatewayV2::Stage")["AccessLogSetting"] = map[string]any{"Format": "x"}
		}, "E3002"},
		{"broken-missing-required-property", func(c cfn) {
			delete(resourceProps(t, c, "AWS::ApiGatewayV2::Stage"), "StageName")
		}, "E3003"},
		{"broken-getatt", func(c cfn) {
			resourceProps(t, c, "AWS::Lambda::Function")["Role"] = map[string]any{"Fn::GetAtt": []any{c.one(t, "AWS::IAM::Role").ID, "ARN"}}
		}, "E1010"},
	}
	broken := map[string]string{}
	for _, tt := range tests {
		c := deepCopy(t, base)
		tt.break_(c)
		broken[writeTemplate(t, dir, tt.name, c)] = tt.rule
	}
	return broken
}

// cfnLint runs cfn-lint on template files and returns its findings. It
// skips when cfn-lint is missing or another version, in CI too: cfn-lint
// comes from PyPI, which not every CI machine reaches, and it is the
// second check; the resource specification (npm, pinned) is the first and
// never skips in CI.
func cfnLint(t *testing.T, files ...string) []cfnLintFinding {
	t.Helper()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint is not on PATH (the templates were checked against the resource specification): pip install cfn-lint==" + cfnLintVersion)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "cfn-lint "+cfnLintVersion {
		t.Skip("`cfn-lint --version` says " + got + "; the tests pin " + cfnLintVersion + " (the templates were checked against the resource specification): pip install cfn-lint==" + cfnLintVersion)
	}
	// The exit status has a bit each for errors (2), warnings (4) and
	// informational findings (8); the JSON on stdout says which.
	var stdout, stderr bytes.Buffer
	// E3012:strict=true: a value's JSON type must be the property's, as
	// checkAgainstSpec requires, rather than one CloudFormation converts.
	cmd := exec.CommandContext(ctx, bin, append([]string{"--format", "json", "--configure-rule", "E3012:strict=true", "--"}, files...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var findings []cfnLintFinding
	if err := json.Unmarshal(stdout.Bytes(), &findings); err != nil {
		t.Fatalf("cfn-lint: %v (%v)\nstdout: %s\nstderr: %s", err, runErr, stdout.String(), stderr.String())
	}
	if runErr != nil && len(findings) == 0 {
		t.Fatalf("cfn-lint failed without findings: %v\n%s", runErr, stderr.String())
	}
	return findings
}
