package infra_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/mulletgo/mullet/infra"
)

// observedProps turns every Observability setting on.
func observedProps(t *testing.T, stack awscdk.Stack) *infra.WebSocketAppProps {
	props := testProps(t)
	props.Observability = &infra.Observability{
		AccessLog:         true,
		ExecutionLogLevel: "INFO",
		DataTrace:         true,
		AccountRole:       true,
		Throttle:          &infra.Throttle{RatePerSecond: 500, Burst: 1000},
		RouteThrottle:     map[string]infra.Throttle{"pair": {RatePerSecond: 50, Burst: 100}},
		Alarms:            &infra.Alarms{Topic: awssns.NewTopic(stack, jsii.String("Ops"), nil), Threshold: 3},
		Tracing:           true,
		OTLPEndpoint:      "http://localhost:4318",
		Metrics:           true,
	}
	return props
}

func observedCfn(t *testing.T) cfn {
	return synth(t, func(stack awscdk.Stack) {
		infra.NewWebSocketApp(stack, jsii.String("App"), observedProps(t, stack))
	})
}

// TestObservability: every setting on, and (the default template) every
// setting off.
func TestObservability(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		c := defaultCfn(t)
		stage := c.one(t, "AWS::ApiGatewayV2::Stage")
		for _, k := range []string{"AccessLogSettings", "DefaultRouteSettings", "RouteSettings"} {
			if v, ok := stage.Properties[k]; ok {
				t.Errorf("stage %s = %s by default", k, render(v))
			}
		}
		for _, typ := range []string{"AWS::CloudWatch::Alarm", "AWS::ApiGateway::Account"} {
			if rs := c.resources(typ); len(rs) != 0 {
				t.Errorf("%d %s by default", len(rs), typ)
			}
		}
		if len(c.resources("AWS::Logs::LogGroup")) != 1 {
			t.Errorf("log groups by default: %d, want the function's only", len(c.resources("AWS::Logs::LogGroup")))
		}
		fn := c.one(t, "AWS::Lambda::Function")
		if v, ok := fn.Properties["TracingConfig"]; ok && render(v) != `{"Mode":"PassThrough"}` {
			t.Errorf("function TracingConfig = %s by default", render(v))
		}
		for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "MULLET_METRICS"} {
			if env := render(fn.Properties["Environment"]); strings.Contains(env, name) {
				t.Errorf("the function's environment has %s by default: %s", name, env)
			}
		}
	})
	t.Run("on", func(t *testing.T) {
		c := observedCfn(t)
		stage := c.one(t, "AWS::ApiGatewayV2::Stage")
		api := c.one(t, "AWS::ApiGatewayV2::Api")
		access, execution := logGroupNamed(t, c, "AccessLogs"), logGroupNamed(t, c, "ExecutionLogs")

		als, _ := stage.Properties["AccessLogSettings"].(map[string]any)
		if render(als["DestinationArn"]) != "{"+access.ID+".Arn}" {
			t.Errorf("access logs go to %s, want %s", render(als["DestinationArn"]), access.ID)
		}
		format := render(als["Format"])
		for _, v := range []string{"$context.requestId", "$context.connectionId", "$context.routeKey", "$context.status", "$context.integration.error"} {
			if !strings.Contains(format, v) {
				t.Errorf("access log format %s lacks %s", format, v)
			}
		}
		if got, want := render(execution.Properties["LogGroupName"]), "API-Gateway-Execution-Logs_{"+api.ID+"}/prod"; got != want {
			t.Errorf("execution log group %s, want %s (API Gateway's own name for it)", got, want)
		}
		if got, want := canonical(t, stage.Properties["DefaultRouteSettings"]), canonical(t, map[string]any{
			"LoggingLevel": "INFO", "DataTraceEnabled": true, "ThrottlingRateLimit": 500, "ThrottlingBurstLimit": 1000,
		}); got != want {
			t.Errorf("DefaultRouteSettings %s, want %s", got, want)
		}
		if got, want := canonical(t, stage.Properties["RouteSettings"]), canonical(t, map[string]any{
			"pair": map[string]any{"LoggingLevel": "INFO", "DataTraceEnabled": true, "ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100},
		}); got != want {
			t.Errorf("RouteSettings %s, want %s", got, want)
		}
		account := c.one(t, "AWS::ApiGateway::Account")
		role := c.roleTrusting(t, "apigateway.amazonaws.com")
		if render(account.Properties["CloudWatchRoleArn"]) != "{"+role.ID+".Arn}" {
			t.Errorf("account role %s, want %s", render(account.Properties["CloudWatchRoleArn"]), role.ID)
		}
		if deps := dependsOn(stage); !contains(deps, account.ID) {
			t.Errorf("the stage does not depend on the account setting (API Gateway refuses logging before it): %v", deps)
		}

		alarms := c.resources("AWS::CloudWatch::Alarm")
		metrics := map[string]bool{}
		topic := c.one(t, "AWS::SNS::Topic")
		for _, a := range alarms {
			metrics[a.Properties["Namespace"].(string)+"/"+a.Properties["MetricName"].(string)] = true
			if a.Properties["Threshold"] != float64(3) || a.Properties["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" {
				t.Errorf("alarm %s: threshold %v %v", a.ID, a.Properties["Threshold"], a.Properties["ComparisonOperator"])
			}
			for _, k := range []string{"AlarmActions", "OKActions"} {
				if got := render(a.Properties[k]); got != `[{"Ref":"`+topic.ID+`"}]` {
					t.Errorf("alarm %s %s = %s, want the topic", a.ID, k, got)
				}
			}
		}
		for _, m := range []string{"AWS/ApiGateway/IntegrationError", "AWS/ApiGateway/ExecutionError", "AWS/Lambda/Throttles", "AWS/Lambda/Errors"} {
			if !metrics[m] {
				t.Errorf("no alarm on %s (have %v)", m, metrics)
			}
		}
		fn := c.one(t, "AWS::Lambda::Function")
		if got := render(fn.Properties["TracingConfig"]); got != `{"Mode":"Active"}` {
			t.Errorf("TracingConfig %s, want Active", got)
		}
		for _, kv := range []string{`"OTEL_EXPORTER_OTLP_ENDPOINT":"http://localhost:4318"`, `"MULLET_METRICS":"emf"`} {
			if env := render(fn.Properties["Environment"]); !strings.Contains(env, kv) {
				t.Errorf("the function's environment lacks %s: %s", kv, env)
			}
		}
	})
}

// logGroupNamed returns the log group whose logical ID contains name.
func logGroupNamed(t *testing.T, c cfn, name string) resource {
	t.Helper()
	for _, r := range c.resources("AWS::Logs::LogGroup") {
		if strings.Contains(r.ID, name) {
			return r
		}
	}
	t.Fatalf("no log group %s", name)
	return resource{}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestLeastPrivilegeFindsMistakes breaks the template with every
// observability setting on in one way at a time: the role and
// resource-policy scans of TestLeastPrivilege report it.
func TestLeastPrivilegeFindsMistakes(t *testing.T) {
	base := observedCfn(t)
	functionLogs := functionLogGroup(t, base).ID
	scan := func(c cfn) []string {
		var problems []string
		errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
		checkRoles(errorf, c, functionLogs)
		checkResourcePolicies(errorf, c)
		return problems
	}
	if problems := scan(base); len(problems) != 0 {
		t.Fatalf("the template with observability on fails the scan: %q", problems)
	}
	policyOf := func(c cfn, role string) map[string]any {
		for _, p := range c.resources("AWS::IAM::Policy") {
			if render(p.Properties["Roles"]) == `[{"Ref":"`+role+`"}]` {
				return p.Properties["PolicyDocument"].(map[string]any)
			}
		}
		t.Fatalf("no policy of role %s", role)
		return nil
	}
	addStatement := func(c cfn, role string, s map[string]any) {
		doc := policyOf(c, role)
		doc["Statement"] = append(list(doc["Statement"]), s)
	}
	resourcesOf := func(c cfn) map[string]any { return c["Resources"].(map[string]any) }
	tests := []struct {
		name   string
		break_ func(c cfn)
		want   string
	}{
		{"account role on the function's log group", func(c cfn) {
			addStatement(c, c.roleTrusting(t, "apigateway.amazonaws.com").ID, map[string]any{
				"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": map[string]any{"Fn::GetAtt": []any{functionLogs, "Arn"}}})
		}, "which is not a stage log group"},
		{"account role with another action", func(c cfn) {
			addStatement(c, c.roleTrusting(t, "apigateway.amazonaws.com").ID, map[string]any{
				"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": map[string]any{"Fn::GetAtt": []any{logGroupNamed(t, c, "AccessLogs").ID, "Arn"}}})
		}, "the account role"},
		{"function role on a stage log group", func(c cfn) {
			addStatement(c, c.roleTrusting(t, "lambda.amazonaws.com").ID, map[string]any{
				"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": map[string]any{"Fn::GetAtt": []any{logGroupNamed(t, c, "ExecutionLogs").ID, "Arn"}}})
		}, "on the stage log group"},
		{"role trusting any principal", func(c cfn) {
			role := resourcesOf(c)[c.roleTrusting(t, "apigateway.amazonaws.com").ID].(map[string]any)["Properties"].(map[string]any)
			role["AssumeRolePolicyDocument"] = map[string]any{"Statement": []any{map[string]any{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": map[string]any{"AWS": "*"}}}}
		}, "want one AWS service allowed sts:AssumeRole"},
		{"alarm that terminates instances", func(c cfn) {
			a := c.resources("AWS::CloudWatch::Alarm")[0]
			resourcesOf(c)[a.ID].(map[string]any)["Properties"].(map[string]any)["AlarmActions"] = []any{"arn:aws:automate:us-east-1:ec2:terminate"}
		}, "want SNS topics only"},
		{"topic policy", func(c cfn) {
			resourcesOf(c)["OpsPolicy"] = map[string]any{"Type": "AWS::SNS::TopicPolicy", "Properties": map[string]any{}}
		}, "template has AWS::SNS::TopicPolicy"},
		{"Lambda permission without a source ARN", func(c cfn) {
			for _, p := range c.resources("AWS::Lambda::Permission") {
				delete(resourcesOf(c)[p.ID].(map[string]any)["Properties"].(map[string]any), "SourceArn")
				break
			}
		}, "want lambda:InvokeFunction for an AWS service and a source ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := deepCopy(t, base)
			tt.break_(c)
			problems := scan(c)
			if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), tt.want) {
				t.Errorf("problems %q, want one containing %q", problems, tt.want)
			}
		})
	}
}
