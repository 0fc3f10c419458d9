package infra_test

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mulletgo/mullet/examples/chat/app"
	rendezvous "github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/infra"
	"github.com/mulletgo/mullet/manifest"
)

// TestCDKCLISynth runs the real cdk CLI (node_modules/.bin/cdk, pinned in
// package.json) on examples/rendezvous/cdk, offline and without an AWS
// account, and checks the template it writes against the app's manifest.
func TestCDKCLISynth(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the cdk CLI synth (it compiles a CDK program)")
	}
	requireNode(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cdk := filepath.Join(root, "node_modules", ".bin", "cdk")
	if _, err := os.Stat(cdk); err != nil {
		skipOrFail(t, "node_modules/.bin/cdk is missing: run `npm ci` at the repository root")
	}

	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cdk, "synth", "--no-notices", "--no-version-reporting", "--quiet", "-o", out)
	cmd.Dir = filepath.Join(root, "examples", "rendezvous", "cdk")
	cmd.Env = append(os.Environ(),
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20",
		"CDK_DISABLE_VERSION_CHECK=true", // no npm registry look-up
		"CDK_DISABLE_CLI_TELEMETRY=true", // no telemetry upload
		"AWS_EC2_METADATA_DISABLED=true", // no instance metadata probe for a default account
	)
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("cdk synth in %s: %v\n%s", cmd.Dir, err, output.String())
	}
	t.Logf("cdk synth took %s", time.Since(start).Round(100*time.Millisecond))

	data, err := os.ReadFile(filepath.Join(out, "Rendezvous.template.json"))
	if err != nil {
		t.Fatalf("%v\ncdk output:\n%s", err, output.String())
	}
	var c cfn
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	t.Logf("template: %d lines, %d resources", bytes.Count(data, []byte("\n"))+1, len(c.resources("")))
	checkAgainstManifest(t, c, rendezvous.New(2).Manifest())
	if rs := c.resources("AWS::CDK::Metadata"); len(rs) != 0 {
		t.Errorf("version reporting is on: %v", rs)
	}

	// The asset the CLI would upload is the arm64 Linux executable.
	key := c.one(t, "AWS::Lambda::Function").Properties["Code"].(map[string]any)["S3Key"].(string)
	bootstrap := filepath.Join(out, "asset."+strings.TrimSuffix(key, ".zip"), "bootstrap")
	f, err := elf.Open(bootstrap)
	if err != nil {
		t.Fatalf("asset: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
		t.Errorf("bootstrap is %v %v, want an arm64 executable", f.Machine, f.Type)
	}
	if fi, err := os.Stat(bootstrap); err == nil {
		t.Logf("bootstrap: %.1f MiB", float64(fi.Size())/(1<<20))
	}
}

// TestChatExample synthesizes the chat example's infrastructure in process.
func TestChatExample(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the chat example (it builds the app for arm64)")
	}
	m := app.New().Manifest()
	c := template(t, &infra.WebSocketAppProps{Manifest: m, MainPackageDir: filepath.Join("..", "examples", "chat")})
	checkAgainstManifest(t, c, m)
	checkLeastPrivilege(t, c)
}

// checkAgainstManifest checks routes, route responses, models and the table
// of a template against m.
func checkAgainstManifest(t *testing.T, c cfn, m *manifest.Manifest) {
	t.Helper()
	if got := c.one(t, "AWS::ApiGatewayV2::Api").Properties["RouteSelectionExpression"]; got != m.RouteSelectionExpression {
		t.Errorf("RouteSelectionExpression = %v, want %q", got, m.RouteSelectionExpression)
	}
	routes := map[string]resource{}
	for _, r := range c.resources("AWS::ApiGatewayV2::Route") {
		routes[r.Properties["RouteKey"].(string)] = r
	}
	models := map[string]resource{}
	for _, r := range c.resources("AWS::ApiGatewayV2::Model") {
		models[r.Properties["Name"].(string)] = r
	}
	twoWay, withSchema := 0, 0
	for _, mr := range m.Routes {
		route, ok := routes[mr.Key]
		if !ok {
			t.Errorf("no route %q", mr.Key)
			continue
		}
		if mr.TwoWay {
			twoWay++
			if route.Properties["RouteResponseSelectionExpression"] != "$default" {
				t.Errorf("two-way route %q has no route response selection expression", mr.Key)
			}
		}
		if len(mr.Schema) == 0 {
			continue
		}
		withSchema++
		model, ok := models[mr.Model]
		if !ok {
			t.Errorf("no model %q", mr.Model)
			continue
		}
		if got, want := canonical(t, model.Properties["Schema"]), canonical(t, mr.Schema); got != want {
			t.Errorf("model %s schema:\n got %s\nwant %s", mr.Model, got, want)
		}
		if canonical(t, route.Properties["RequestModels"]) != canonical(t, map[string]string{"$default": mr.Model}) {
			t.Errorf("route %q RequestModels = %v", mr.Key, route.Properties["RequestModels"])
		}
	}
	if len(routes) != len(m.Routes) || len(models) != withSchema || len(c.resources("AWS::ApiGatewayV2::RouteResponse")) != twoWay {
		t.Errorf("%d routes, %d models, %d route responses; want %d, %d, %d",
			len(routes), len(models), len(c.resources("AWS::ApiGatewayV2::RouteResponse")), len(m.Routes), withSchema, twoWay)
	}
	table := c.one(t, "AWS::DynamoDB::Table").Properties
	if canonical(t, table["TimeToLiveSpecification"]) != `{"AttributeName":"ttl","Enabled":true}` || table["BillingMode"] != "PAY_PER_REQUEST" {
		t.Errorf("table = %v", table)
	}
}
