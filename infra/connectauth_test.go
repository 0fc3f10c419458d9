package infra_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/mulletgo/mullet/infra"
	"github.com/mulletgo/mullet/manifest"
)

// authProps is testProps for an app that requires IAM and API keys on
// $connect, with two plans and three keys.
func authProps(t *testing.T) *infra.WebSocketAppProps {
	props := testProps(t)
	props.Manifest.ConnectAuth = &manifest.ConnectAuth{
		IAM: true,
		APIKeys: &manifest.APIKeys{Plans: []manifest.UsagePlan{
			{Name: "free", Throttle: &manifest.Throttle{RatePerSecond: 5, Burst: 10}, Quota: &manifest.Quota{Limit: 1000, Period: "DAY"}},
			{Name: "paid", Throttle: &manifest.Throttle{RatePerSecond: 100, Burst: 200}},
		}},
	}
	props.APIKeys = []infra.APIKey{
		{Name: "tenant-a", Plan: "free"},
		{Name: "tenant-b", Plan: "paid", Value: "0123456789abcdefghij0123"},
		{Name: "tenant-c", Plan: "free"},
	}
	return props
}

func authCfn(t *testing.T) cfn {
	return synth(t, func(stack awscdk.Stack) {
		app := infra.NewWebSocketApp(stack, jsii.String("App"), authProps(t))
		client := awsiam.NewRole(stack, jsii.String("Client"), &awsiam.RoleProps{
			AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		})
		app.GrantConnect(client)
	})
}

// TestConnectAuth: IAM and API keys declared in the manifest become the
// $connect route's AWS_IAM authorization and apiKeyRequired, the API's key
// selection expression, one usage plan per declared plan on this stage,
// and one key per props key, in its plan.
func TestConnectAuth(t *testing.T) {
	c := authCfn(t)
	api := c.one(t, "AWS::ApiGatewayV2::Api")
	if got := api.Properties["ApiKeySelectionExpression"]; got != manifest.APIKeyFromHeader {
		t.Errorf("ApiKeySelectionExpression %v", got)
	}
	var connect resource
	for _, r := range c.resources("AWS::ApiGatewayV2::Route") {
		if r.Properties["RouteKey"] == manifest.RouteConnect {
			connect = r
		} else if r.Properties["ApiKeyRequired"] == true {
			t.Errorf("route %v requires an API key; only $connect is authorized", r.Properties["RouteKey"])
		}
	}
	if connect.Properties["AuthorizationType"] != "AWS_IAM" || connect.Properties["ApiKeyRequired"] != true {
		t.Errorf("$connect AuthorizationType %v ApiKeyRequired %v, want AWS_IAM and true", connect.Properties["AuthorizationType"], connect.Properties["ApiKeyRequired"])
	}

	stage := c.one(t, "AWS::ApiGatewayV2::Stage")
	plans := map[string]resource{}
	for _, p := range c.resources("AWS::ApiGateway::UsagePlan") {
		plans[p.Properties["UsagePlanName"].(string)] = p
		stages := list(p.Properties["ApiStages"])
		if len(stages) != 1 {
			t.Fatalf("plan %s on %d stages", p.ID, len(stages))
		}
		s := stages[0].(map[string]any)
		if render(s["ApiId"]) != "{"+api.ID+"}" || render(s["Stage"]) != "prod" {
			t.Errorf("plan %s on %s/%s, want this API and stage", p.ID, render(s["ApiId"]), render(s["Stage"]))
		}
		if !contains(dependsOn(p), stage.ID) {
			t.Errorf("plan %s does not depend on the stage it names", p.ID)
		}
	}
	free, paid := plans["infratest-free"], plans["infratest-paid"]
	if free.ID == "" || paid.ID == "" || len(plans) != 2 {
		t.Fatalf("usage plans %v, want infratest-free and infratest-paid", plans)
	}
	if got, want := canonical(t, free.Properties["Throttle"]), canonical(t, map[string]any{"BurstLimit": 10, "RateLimit": 5}); got != want {
		t.Errorf("free throttle %s, want %s", got, want)
	}
	if got, want := canonical(t, free.Properties["Quota"]), canonical(t, map[string]any{"Limit": 1000, "Period": "DAY"}); got != want {
		t.Errorf("free quota %s, want %s", got, want)
	}
	if _, ok := paid.Properties["Quota"]; ok {
		t.Errorf("paid plan has a quota: %v", paid.Properties["Quota"])
	}

	keys := map[string]resource{}
	for _, k := range c.resources("AWS::ApiGateway::ApiKey") {
		keys[k.ID] = k
	}
	if len(keys) != 3 {
		t.Fatalf("%d API keys, want 3", len(keys))
	}
	inPlan := map[string]string{}
	for _, pk := range c.resources("AWS::ApiGateway::UsagePlanKey") {
		inPlan[strings.Trim(render(pk.Properties["KeyId"]), "{}")] = strings.Trim(render(pk.Properties["UsagePlanId"]), "{}")
		if pk.Properties["KeyType"] != "API_KEY" {
			t.Errorf("usage plan key %s type %v", pk.ID, pk.Properties["KeyType"])
		}
	}
	for id, k := range keys {
		name := k.Properties["Name"].(string)
		want := free.ID
		if name == "infratest-tenant-b" {
			want = paid.ID
			if k.Properties["Value"] != "0123456789abcdefghij0123" {
				t.Errorf("key %s value %v", name, k.Properties["Value"])
			}
		} else if _, ok := k.Properties["Value"]; ok {
			t.Errorf("key %s has a value in the template; API Gateway should generate it", name)
		}
		if inPlan[id] != want {
			t.Errorf("key %s in plan %s, want %s", name, inPlan[id], want)
		}
	}

	// GrantConnect: execute-api:Invoke on exactly this API, stage and
	// $connect, for the client role only.
	found := false
	for _, pol := range c.resources("AWS::IAM::Policy") {
		for _, s := range list(pol.Properties["PolicyDocument"].(map[string]any)["Statement"]) {
			st := s.(map[string]any)
			if render(st["Action"]) != "execute-api:Invoke" {
				continue
			}
			found = true
			want := "arn:{AWS::Partition}:execute-api:{AWS::Region}:{AWS::AccountId}:{" + api.ID + "}/prod/$connect"
			if got := render(st["Resource"]); got != want {
				t.Errorf("execute-api:Invoke on %s, want %s", got, want)
			}
		}
	}
	if !found {
		t.Error("GrantConnect granted no execute-api:Invoke")
	}
}

func TestConnectAuthInvalid(t *testing.T) {
	requireNode(t)
	tests := []struct {
		name   string
		change func(p *infra.WebSocketAppProps)
		want   string
	}{
		{"keys without declaration", func(p *infra.WebSocketAppProps) {
			p.Manifest.ConnectAuth = nil
		}, "requires no API key"},
		{"unknown plan", func(p *infra.WebSocketAppProps) { p.APIKeys[0].Plan = "gold" }, `usage plan "gold"`},
		{"short value", func(p *infra.WebSocketAppProps) { p.APIKeys[0].Value = "short" }, "20 to 128"},
		{"duplicate key", func(p *infra.WebSocketAppProps) { p.APIKeys[1].Name = p.APIKeys[0].Name }, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props := authProps(t)
			tt.change(props)
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(panicMessage(r), tt.want) {
					t.Fatalf("panic %v, want %q", r, tt.want)
				}
			}()
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
			infra.NewWebSocketApp(awscdk.NewStack(app, jsii.String("Test"), nil), jsii.String("App"), props)
		})
	}
}
