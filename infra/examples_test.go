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

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/mulletgo/mullet/examples/chat/app"
	rendezvous "github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/infra"
	"github.com/mulletgo/mullet/manifest"
)

// TestCDKCLISynth runs the real cdk CLI (node_modules/.bin/cdk, pinned in
// package.json) on examples/rendezvous/cdk, offline and without an AWS
// account, and checks the template it writes against the app's manifest,
// the CloudFormation resource specification and cfn-lint.
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
	// Last: each skips without its tool.
	checkAgainstSpec(t, c)
	checkCfnLint(t, []string{filepath.Join(out, "Rendezvous.template.json")}, nil)
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

// TestExamplesWithConnectAuth synthesizes both examples with IAM and API
// keys required on $connect (the rendezvous example declares its keys;
// the chat example gets a plan here) and a client role granted
// GrantConnect: the templates pass the least-privilege checks, grant
// execute-api:Invoke only on the $connect route of the stage, and carry
// the ApiKey, UsagePlan and UsagePlanKey resources.
func TestExamplesWithConnectAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the examples (they build the apps for arm64)")
	}
	for _, ex := range []struct {
		name string
		m    *manifest.Manifest
		dir  string
	}{
		{"chat", app.New().Manifest(), filepath.Join("..", "examples", "chat")},
		{"rendezvous", rendezvous.New(2).Manifest(), filepath.Join("..", "examples", "rendezvous")},
	} {
		t.Run(ex.name, func(t *testing.T) {
			m := ex.m
			if m.ConnectAuth == nil {
				m.ConnectAuth = &manifest.ConnectAuth{}
			}
			m.ConnectAuth.IAM = true
			if m.ConnectAuth.APIKeys == nil {
				m.ConnectAuth.APIKeys = &manifest.APIKeys{Plans: []manifest.UsagePlan{{Name: "free", Quota: &manifest.Quota{Limit: 100, Period: "DAY"}}}}
			}
			plan := m.ConnectAuth.APIKeys.Plans[0].Name
			c := synth(t, func(stack awscdk.Stack) {
				a := infra.NewWebSocketApp(stack, jsii.String("App"), &infra.WebSocketAppProps{Manifest: m, MainPackageDir: ex.dir,
					APIKeys: []infra.APIKey{{Name: "tenant-a", Plan: plan}, {Name: "tenant-b", Plan: plan}}})
				client := awsiam.NewRole(stack, jsii.String("Client"), &awsiam.RoleProps{
					AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
				})
				a.GrantConnect(client)
			})
			checkAgainstManifest(t, c, m)
			checkLeastPrivilege(t, c)
			for _, r := range c.resources("AWS::ApiGatewayV2::Route") {
				if r.Properties["RouteKey"] == manifest.RouteConnect &&
					(r.Properties["AuthorizationType"] != "AWS_IAM" || r.Properties["ApiKeyRequired"] != true) {
					t.Errorf("$connect: AuthorizationType %v, ApiKeyRequired %v", r.Properties["AuthorizationType"], r.Properties["ApiKeyRequired"])
				}
			}
			for typ, want := range map[string]int{"AWS::ApiGateway::ApiKey": 2, "AWS::ApiGateway::UsagePlanKey": 2, "AWS::ApiGateway::UsagePlan": len(m.ConnectAuth.APIKeys.Plans)} {
				if got := len(c.resources(typ)); got != want {
					t.Errorf("%d %s, want %d", got, typ, want)
				}
			}
			api := c.one(t, "AWS::ApiGatewayV2::Api")
			stage := c.one(t, "AWS::ApiGatewayV2::Stage").Properties["StageName"]
			invokes := 0
			for _, pol := range c.resources("AWS::IAM::Policy") {
				for _, s := range list(pol.Properties["PolicyDocument"].(map[string]any)["Statement"]) {
					st := s.(map[string]any)
					if !strings.Contains(render(st["Action"]), "execute-api:Invoke") {
						continue
					}
					invokes++
					want := "arn:{AWS::Partition}:execute-api:{AWS::Region}:{AWS::AccountId}:{" + api.ID + "}/" + render(stage) + "/$connect"
					if got := render(st["Resource"]); got != want {
						t.Errorf("execute-api:Invoke on %s, want %s", got, want)
					}
				}
			}
			if invokes != 1 {
				t.Errorf("%d statements grant execute-api:Invoke, want 1 (GrantConnect's)", invokes)
			}
		})
	}
}
