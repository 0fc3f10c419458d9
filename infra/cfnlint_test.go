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

// checkCfnLint runs cfn-lint on template files and fails t on any error it
// reports; warnings and informational findings are logged.
func checkCfnLint(t *testing.T, files ...string) {
	t.Helper()
	if len(files) == 0 {
		t.Skip("no templates were synthesized")
	}
	start := time.Now()
	findings := cfnLint(t, files...)
	errors := 0
	for _, f := range findings {
		if f.Level == "Error" {
			errors++
			t.Errorf("cfn-lint %s", f)
		} else {
			t.Logf("cfn-lint %s: %s", strings.ToLower(f.Level), f)
		}
	}
	t.Logf("cfn-lint %s: %d templates, %d errors, %d other findings, %s", cfnLintVersion, len(files), errors, len(findings)-errors, time.Since(start).Round(100*time.Millisecond))
}

// cfnLint runs cfn-lint on template files and returns its findings. It
// skips when cfn-lint is missing or another version, except in CI.
func cfnLint(t *testing.T, files ...string) []cfnLintFinding {
	t.Helper()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		skipOrFail(t, "cfn-lint is not on PATH: pip install cfn-lint=="+cfnLintVersion)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "cfn-lint "+cfnLintVersion {
		skipOrFail(t, "`cfn-lint --version` says "+got+"; the tests pin "+cfnLintVersion+": pip install cfn-lint=="+cfnLintVersion)
	}
	// The exit status has a bit each for errors (2), warnings (4) and
	// informational findings (8); the JSON on stdout says which.
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append([]string{"--format", "json", "--"}, files...)...)
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

// TestCfnLintFindsMistakes: cfn-lint reports an unknown property, a missing
// required property and a GetAtt of an attribute the type lacks.
func TestCfnLintFindsMistakes(t *testing.T) {
	base := defaultCfn(t)
	dir := t.TempDir()
	tests := []struct {
		name   string
		break_ func(c cfn)
		rule   string
	}{
		{"unknown property", func(c cfn) {
			resourceProps(t, c, "AWS::ApiGatewayV2::Stage")["AccessLogSetting"] = map[string]any{"Format": "x"}
		}, "E3002"},
		{"missing required property", func(c cfn) {
			delete(resourceProps(t, c, "AWS::ApiGatewayV2::Stage"), "StageName")
		}, "E3003"},
		{"GetAtt of an attribute the type lacks", func(c cfn) {
			resourceProps(t, c, "AWS::Lambda::Function")["Role"] = map[string]any{"Fn::GetAtt": []any{c.one(t, "AWS::IAM::Role").ID, "ARN"}}
		}, "E1010"},
	}
	var files []string
	for _, tt := range tests {
		c := deepCopy(t, base)
		tt.break_(c)
		files = append(files, writeTemplate(t, dir, tt.name, c))
	}
	findings := cfnLint(t, files...)
	for i, tt := range tests {
		var got []string
		for _, f := range findings {
			if f.Filename == files[i] && f.Level == "Error" {
				got = append(got, f.Rule.Id)
			}
		}
		if len(got) != 1 || got[0] != tt.rule {
			t.Errorf("%s: cfn-lint errors %v, want [%s]", tt.name, got, tt.rule)
		}
	}
}
