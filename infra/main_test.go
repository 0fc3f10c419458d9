package infra_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/mulletgo/mullet/infra"
	"github.com/mulletgo/mullet/manifest"
)

// TestMain closes the jsii runtime (the node process behind the CDK) after
// the tests.
//
// Under -race it does not: jsii-runtime-go v1.139.0's Close calls
// exec.Cmd.Wait while the goroutine it started with the node process is
// also in Wait, a data race the detector reports (failing the run) however
// the tests went. There the node process ends when this process exits and
// closes its stdin, and removeJSIIRuntimeFiles does the rest of Close's
// cleanup.
func TestMain(m *testing.M) {
	if os.Getenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION") == "" {
		os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	}
	code := m.Run()
	if raceDetector {
		removeJSIIRuntimeFiles()
	} else {
		jsii.Close()
	}
	os.Exit(code)
}

// requireNode skips the test when node, which runs the CDK underneath, is
// missing, except in CI where that is a broken machine.
func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		skipOrFail(t, "node is not on PATH: the CDK runs on node (install node 20+)")
	}
}

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func testManifest(t *testing.T) *manifest.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testProps returns props for the test manifest and the stand-in main
// package in testdata/lambdamain.
func testProps(t *testing.T) *infra.WebSocketAppProps {
	t.Helper()
	return &infra.WebSocketAppProps{
		Manifest:       testManifest(t),
		MainPackageDir: filepath.Join("testdata", "lambdamain"),
	}
}

// template synthesizes a stack holding one WebSocketApp and returns its
// CloudFormation template as decoded JSON.
func template(t *testing.T, props *infra.WebSocketAppProps) cfn {
	t.Helper()
	return synth(t, func(stack awscdk.Stack) {
		infra.NewWebSocketApp(stack, jsii.String("App"), props)
	})
}

// synth runs define on a new stack in a new app and returns the stack's
// template.
func synth(t *testing.T, define func(stack awscdk.Stack)) cfn {
	t.Helper()
	requireNode(t)
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Test"), nil)
	define(stack)
	return cfn(*assertions.Template_FromStack(stack, nil).ToJSON())
}

var defaultTemplate struct {
	once sync.Once
	cfn  cfn
}

// defaultCfn returns the template for testProps, synthesized once for all
// the tests that only read it.
func defaultCfn(t *testing.T) cfn {
	t.Helper()
	requireNode(t)
	defaultTemplate.once.Do(func() { defaultTemplate.cfn = template(t, testProps(t)) })
	if defaultTemplate.cfn == nil {
		t.Fatal("synthesizing the default template failed in an earlier test")
	}
	return defaultTemplate.cfn
}

// cfn is a decoded CloudFormation template.
type cfn map[string]any

type resource struct {
	ID         string
	Type       string
	Properties map[string]any
	Raw        map[string]any
}

// resources returns the template's resources of type typ, by logical ID.
func (c cfn) resources(typ string) []resource {
	rs, _ := c["Resources"].(map[string]any)
	var out []resource
	for id, v := range rs {
		r := v.(map[string]any)
		if typ != "" && r["Type"] != typ {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		out = append(out, resource{ID: id, Type: r["Type"].(string), Properties: props, Raw: r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c cfn) one(t *testing.T, typ string) resource {
	t.Helper()
	rs := c.resources(typ)
	if len(rs) != 1 {
		t.Fatalf("template has %d %s resources, want 1", len(rs), typ)
	}
	return rs[0]
}

// render writes a template value as text, intrinsic functions included:
// {"Ref":"X"} -> {X}, {"Fn::GetAtt":["X","Arn"]} -> {X.Arn}, Fn::Join joined.
func render(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if ref, ok := v["Ref"]; ok && len(v) == 1 {
			return "{" + fmt.Sprint(ref) + "}"
		}
		if ga, ok := v["Fn::GetAtt"].([]any); ok && len(v) == 1 {
			parts := make([]string, len(ga))
			for i, p := range ga {
				parts[i] = render(p)
			}
			return "{" + strings.Join(parts, ".") + "}"
		}
		if j, ok := v["Fn::Join"].([]any); ok && len(v) == 1 && len(j) == 2 {
			parts := j[1].([]any)
			s := make([]string, len(parts))
			for i, p := range parts {
				s[i] = render(p)
			}
			return strings.Join(s, j[0].(string))
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// list returns a value that may be one item or a list as a list.
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// canonical re-marshals JSON (or a decoded value) so that equal documents
// compare equal byte for byte.
func canonical(t *testing.T, v any) string {
	t.Helper()
	if raw, ok := v.(json.RawMessage); ok {
		var d any
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		v = d
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func dependsOn(r resource) []string {
	var out []string
	for _, d := range list(r.Raw["DependsOn"]) {
		out = append(out, d.(string))
	}
	return out
}

func equalSets(a, b []string) bool {
	a = append([]string(nil), a...)
	b = append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return reflect.DeepEqual(a, b)
}
