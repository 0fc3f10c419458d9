package infra_test

import (
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
