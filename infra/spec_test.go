package infra_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	chat "github.com/mulletgo/mullet/examples/chat/app"
	rendezvous "github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/infra"
)

// TestTemplatesMatchSpec validates the templates infra synthesizes against
// the CloudFormation resource specification (checkAgainstSpec) and with
// cfn-lint (checkCfnLint, which must also report three broken copies):
// every Observability setting off (nil, and the zero value) and on, barrier
// timers, each $connect authorization, and both examples.
func TestTemplatesMatchSpec(t *testing.T) {
	resourceSpec(t) // skip early, before any synth, when the spec is missing
	templates := []struct {
		name string
		cfn  func(t *testing.T) cfn
	}{
		{"defaults", defaultCfn},
		{"observability off", func(t *testing.T) cfn {
			props := testProps(t)
			props.Observability = &infra.Observability{}
			return template(t, props)
		}},
		{"observability on", observedCfn},
		{"observability on without topic or account role", func(t *testing.T) cfn {
			return synth(t, func(stack awscdk.Stack) {
				props := observedProps(t, stack)
				props.Observability.AccountRole = false
				props.Observability.Alarms.Topic = nil
				props.Observability.ExecutionLogLevel = "ERROR"
				props.Observability.DataTrace = false
				props.PointInTimeRecovery = true
				infra.NewWebSocketApp(stack, jsii.String("App"), props)
			})
		}},
		{"barrier timeouts", func(t *testing.T) cfn { return template(t, timeoutProps(t)) }},
		{"lambda authorizer", func(t *testing.T) cfn {
			return synth(t, func(stack awscdk.Stack) {
				props := testProps(t)
				props.ConnectAuthorizer = &infra.ConnectAuthorizer{
					Function:       awslambda.Function_FromFunctionArn(stack, jsii.String("Authorizer"), jsii.String("arn:aws:lambda:us-east-1:123456789012:function:auth")),
					IdentitySource: []string{"route.request.querystring.token"},
				}
				infra.NewWebSocketApp(stack, jsii.String("App"), props)
			})
		}},
		{"iam and api keys", authCfn},
		{"chat example", func(t *testing.T) cfn {
			return exampleCfn(t, "chat")
		}},
		{"rendezvous example", func(t *testing.T) cfn {
			return exampleCfn(t, "rendezvous")
		}},
	}
	dir := t.TempDir()
	var files []string
	for _, tt := range templates {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfn(t)
			checkAgainstSpec(t, c)
			t.Logf("%d resources valid", len(c.resources("")))
			files = append(files, writeTemplate(t, dir, tt.name, c))
		})
	}
	t.Run("cfn-lint", func(t *testing.T) {
		checkCfnLint(t, files, cfnLintMistakes(t, defaultCfn(t), dir))
	})
}

// writeTemplate writes c as name.json in dir and returns the file's path.
func writeTemplate(t *testing.T, dir, name string, c cfn) string {
	t.Helper()
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// exampleCfn synthesizes an example's app in process, as its CDK program
// does.
func exampleCfn(t *testing.T, name string) cfn {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the examples (they build the apps for arm64)")
	}
	props := &infra.WebSocketAppProps{MainPackageDir: filepath.Join("..", "examples", name)}
	switch name {
	case "chat":
		props.Manifest = chat.New().Manifest()
	case "rendezvous":
		props.Manifest = rendezvous.New(2).Manifest()
	}
	return template(t, props)
}

// TestSpecValidationFindsMistakes breaks a valid template in one way at a
// time: the validation reports exactly that.
func TestSpecValidationFindsMistakes(t *testing.T) {
	spec := resourceSpec(t)
	base := defaultCfn(t)
	if problems := spec.validateTemplate(base); len(problems) != 0 {
		t.Fatalf("the default template is invalid: %v", problems)
	}
	id := func(c cfn, typ string) string { return c.one(t, typ).ID }
	props := func(c cfn, typ string) map[string]any { return resourceProps(t, c, typ) }
	tests := []struct {
		name   string
		break_ func(c cfn)
		want   string
	}{
		{"unknown property", func(c cfn) {
			props(c, "AWS::ApiGatewayV2::Stage")["AccessLogSetting"] = map[string]any{"Format": "x"}
		}, `.Properties: unknown property "AccessLogSetting"`},
		{"unknown property of a property type", func(c cfn) {
			props(c, "AWS::ApiGatewayV2::Stage")["DefaultRouteSettings"] = map[string]any{"LogLevel": "INFO"}
		}, `.Properties.DefaultRouteSettings: unknown property "LogLevel"`},
		{"missing required property", func(c cfn) {
			delete(props(c, "AWS::ApiGatewayV2::Stage"), "StageName")
		}, `required property "StageName" is missing`},
		{"missing required property of a property type", func(c cfn) {
			ads := props(c, "AWS::DynamoDB::Table")["AttributeDefinitions"].([]any)
			delete(ads[0].(map[string]any), "AttributeType")
		}, `.Properties.AttributeDefinitions[0]: required property "AttributeType" is missing`},
		{"GetAtt of an attribute the type lacks", func(c cfn) {
			props(c, "AWS::Lambda::Function")["Role"] = map[string]any{"Fn::GetAtt": []any{id(c, "AWS::IAM::Role"), "ARN"}}
		}, `AWS::IAM::Role has no attribute ARN`},
		{"GetAtt of no resource", func(c cfn) {
			props(c, "AWS::Lambda::Function")["Role"] = map[string]any{"Fn::GetAtt": []any{"Nowhere", "Arn"}}
		}, `Fn::GetAtt of Nowhere, which is no resource`},
		{"Ref of nothing", func(c cfn) {
			props(c, "AWS::ApiGatewayV2::Stage")["ApiId"] = map[string]any{"Ref": "Nowhere"}
		}, `Ref Nowhere, which is no resource`},
		{"Ref inside Fn::Sub of nothing", func(c cfn) {
			props(c, "AWS::ApiGatewayV2::Stage")["Description"] = map[string]any{"Fn::Sub": "stage of ${Nowhere}"}
		}, `Ref Nowhere, which is no resource`},
		{"string for an integer", func(c cfn) {
			props(c, "AWS::Lambda::Function")["MemorySize"] = "lots"
		}, `.Properties.MemorySize: lots, want an integer`},
		{"object for a list", func(c cfn) {
			props(c, "AWS::Lambda::Function")["Architectures"] = "arm64"
		}, `.Properties.Architectures: arm64, want a list`},
		{"string function for a list", func(c cfn) {
			props(c, "AWS::Lambda::Function")["Architectures"] = map[string]any{"Fn::Join": []any{",", []any{"arm64"}}}
		}, `Architectures: Fn::Join cannot return the array of string`},
		{"value outside the enumeration", func(c cfn) {
			props(c, "AWS::Lambda::Function")["LoggingConfig"] = map[string]any{"LogFormat": "YAML"}
		}, `LoggingConfig.LogFormat: "YAML" is not one of`},
		{"unknown resource type", func(c cfn) {
			c["Resources"].(map[string]any)[id(c, "AWS::ApiGatewayV2::Stage")].(map[string]any)["Type"] = "AWS::ApiGatewayV2::Stages"
		}, `unknown resource type "AWS::ApiGatewayV2::Stages"`},
		{"DependsOn nothing", func(c cfn) {
			c["Resources"].(map[string]any)[id(c, "AWS::ApiGatewayV2::Stage")].(map[string]any)["DependsOn"] = []any{"Nowhere"}
		}, `DependsOn Nowhere, which is not another resource`},
		{"route settings of the wrong type", func(c cfn) {
			props(c, "AWS::ApiGatewayV2::Stage")["RouteSettings"] = map[string]any{"pair": map[string]any{"ThrottlingBurstLimit": "lots"}}
		}, `.Properties.RouteSettings.pair.ThrottlingBurstLimit: lots, want an integer`},
		{"route settings with an unknown key", func(c cfn) {
			props(c, "AWS::ApiGatewayV2::Stage")["RouteSettings"] = map[string]any{"pair": map[string]any{"Throttle": 5}}
		}, `.Properties.RouteSettings.pair: unknown property "Throttle"`},
		{"rule function outside Rules", func(c cfn) {
			props(c, "AWS::ApiGatewayV2::Stage")["Description"] = map[string]any{"Fn::Contains": []any{[]any{"a"}, "a"}}
		}, `Fn::Contains is a function of Rules only`},
		{"Ref of a resource in a rule", func(c cfn) {
			c["Rules"] = map[string]any{"R": map[string]any{"Assertions": []any{map[string]any{
				"Assert": map[string]any{"Fn::Equals": []any{map[string]any{"Ref": id(c, "AWS::ApiGatewayV2::Stage")}, "x"}}}}}}
		}, `in a rule, which is no parameter`},
		{"unknown intrinsic function", func(c cfn) {
			props(c, "AWS::ApiGatewayV2::Stage")["Description"] = map[string]any{"Fn::Concat": []any{"a", "b"}}
		}, `unknown intrinsic function Fn::Concat`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := deepCopy(t, base)
			tt.break_(c)
			problems := spec.validateTemplate(c)
			if len(problems) != 1 || !strings.Contains(problems[0], tt.want) {
				t.Errorf("problems %q, want one containing %q", problems, tt.want)
			}
		})
	}
}

func deepCopy(t *testing.T, c cfn) cfn {
	t.Helper()
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out cfn
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// resourceProps returns the Properties of c's one resource of type typ, to
// change in place.
func resourceProps(t *testing.T, c cfn, typ string) map[string]any {
	t.Helper()
	return c["Resources"].(map[string]any)[c.one(t, typ).ID].(map[string]any)["Properties"].(map[string]any)
}
