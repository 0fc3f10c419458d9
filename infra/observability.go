package infra

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Observability configures what an operator sees of a deployed app beyond
// the function's own log group: the stage's access and execution logs,
// throttling, alarms and tracing. The zero value turns all of them off.
type Observability struct {
	// AccessLog writes one JSON line per connect, message and disconnect
	// (requestId, connectionId, eventType, routeKey, status, error and
	// integration error, latency) to a log group of the stage.
	AccessLog bool
	// ExecutionLogLevel is the stage's execution logging: "" (off),
	// "ERROR" or "INFO". API Gateway writes it to the log group
	// API-Gateway-Execution-Logs_{apiId}/{stage}, which is created here
	// with LogRetention.
	ExecutionLogLevel string
	// DataTrace adds full frames to INFO execution logs. Frames can hold
	// secrets: keep it off in production.
	DataTrace bool
	// AccountRole creates the API Gateway account setting
	// (AWS::ApiGateway::Account) with a role that lets API Gateway write
	// this stage's access and execution logs, which API Gateway requires
	// before it logs a WebSocket stage. The setting is one per account and
	// region, shared by every API there: leave it false where the account
	// already has one.
	AccountRole bool
	// Throttle is the stage's default throttle for every route; nil keeps
	// the account's limits.
	Throttle *Throttle
	// RouteThrottle overrides Throttle per route key.
	RouteThrottle map[string]Throttle
	// Alarms, if set, adds CloudWatch alarms on the app's failures.
	Alarms *Alarms
	// Tracing turns on AWS X-Ray active tracing of the function.
	Tracing bool
	// OTLPEndpoint, if set, turns on the app's OpenTelemetry spans
	// (docs/observability.md): the function gets
	// OTEL_EXPORTER_OTLP_ENDPOINT and exports OTLP/HTTP JSON to its
	// /v1/traces at the end of every invocation. The receiver must be
	// reachable from the function without signing, e.g. the collector of
	// the AWS Distro for OpenTelemetry Lambda layer, http://localhost:4318
	// (add the layer to the function), or a collector in the VPC. X-Ray's
	// own OTLP endpoint requires SigV4-signed requests, which the
	// function's exporter does not sign. With Tracing also on, the spans
	// continue the X-Ray trace of each invocation.
	OTLPEndpoint string
	// Metrics makes the function write one CloudWatch Embedded Metric
	// Format line per invocation (MULLET_METRICS=emf): per route,
	// invocations, errors, duration, pushes, gone connections, throttles,
	// barrier releases and timeouts, replays, in the namespace "mullet".
	// Off by default: each metric and route is a custom metric, billed
	// per month.
	Metrics bool
}

// Throttle is a steady-state rate and a burst, as API Gateway throttles
// requests (token bucket).
type Throttle struct {
	// RatePerSecond is the steady-state request rate.
	RatePerSecond float64
	// Burst is the bucket size.
	Burst int
}

// Alarms configures the alarms NewWebSocketApp adds when
// Observability.Alarms is set: each goes off when its metric's sum over
// Period reaches Threshold.
type Alarms struct {
	// Topic, if set, is notified of every alarm's state changes.
	Topic awssns.ITopic
	// Period is the evaluation period. Default 5 minutes.
	Period awscdk.Duration
	// Threshold is the count that sets an alarm off. Default 1.
	Threshold float64
}

// accessLogFormat is the access log line: API Gateway's $context variables
// for WebSocket APIs.
var accessLogFormat = map[string]string{
	"requestId":          "$context.requestId",
	"extendedRequestId":  "$context.extendedRequestId",
	"connectionId":       "$context.connectionId",
	"eventType":          "$context.eventType",
	"routeKey":           "$context.routeKey",
	"status":             "$context.status",
	"requestTime":        "$context.requestTimeEpoch",
	"ip":                 "$context.identity.sourceIp",
	"error":              "$context.error.message",
	"integrationError":   "$context.integration.error",
	"integrationStatus":  "$context.integration.status",
	"integrationLatency": "$context.integration.latency",
}

func (o *Observability) validate(routes map[string]bool) error {
	switch o.ExecutionLogLevel {
	case "", "ERROR", "INFO":
	default:
		return fmt.Errorf("props.Observability.ExecutionLogLevel %q: use \"\", \"ERROR\" or \"INFO\"", o.ExecutionLogLevel)
	}
	if o.DataTrace && o.ExecutionLogLevel != "INFO" {
		return fmt.Errorf("props.Observability.DataTrace needs ExecutionLogLevel \"INFO\"")
	}
	check := func(what string, t Throttle) error {
		if t.RatePerSecond <= 0 || t.Burst <= 0 {
			return fmt.Errorf("props.Observability.%s: RatePerSecond and Burst must be positive", what)
		}
		return nil
	}
	if o.Throttle != nil {
		if err := check("Throttle", *o.Throttle); err != nil {
			return err
		}
	}
	for key, t := range o.RouteThrottle {
		if !routes[key] {
			return fmt.Errorf("props.Observability.RouteThrottle names route %q, which the manifest does not declare", key)
		}
		if err := check("RouteThrottle["+key+"]", t); err != nil {
			return err
		}
	}
	if o.Alarms != nil && o.Alarms.Threshold < 0 {
		return fmt.Errorf("props.Observability.Alarms.Threshold must not be negative")
	}
	return nil
}

// observe adds o's logs, throttles and alarms to c. The function exists.
func (c *webSocketApp) observe(scope constructs.Construct, o *Observability, stageName string, retention awslogs.RetentionDays) {
	cfnStage := c.stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	var logGroupArns []*string
	if o.AccessLog {
		c.accessLogs = awslogs.NewLogGroup(scope, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
			Retention:     retention,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		format, _ := json.Marshal(accessLogFormat) // sorted keys: the same line every synth
		cfnStage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
			DestinationArn: c.accessLogs.LogGroupArn(),
			Format:         jsii.String(string(format)),
		})
		logGroupArns = append(logGroupArns, c.accessLogs.LogGroupArn())
	}
	if o.ExecutionLogLevel != "" {
		name := awscdk.Fn_Join(jsii.String(""), jsii.Strings("API-Gateway-Execution-Logs_", *c.api.ApiId(), "/", stageName))
		c.executionLogs = awslogs.NewLogGroup(scope, jsii.String("ExecutionLogs"), &awslogs.LogGroupProps{
			LogGroupName:  name,
			Retention:     retention,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		logGroupArns = append(logGroupArns, c.executionLogs.LogGroupArn())
	}
	if o.ExecutionLogLevel != "" || o.Throttle != nil {
		settings := &awsapigatewayv2.CfnStage_RouteSettingsProperty{}
		if o.ExecutionLogLevel != "" {
			settings.LoggingLevel = jsii.String(o.ExecutionLogLevel)
			settings.DataTraceEnabled = jsii.Bool(o.DataTrace)
		}
		if o.Throttle != nil {
			settings.ThrottlingRateLimit = jsii.Number(o.Throttle.RatePerSecond)
			settings.ThrottlingBurstLimit = jsii.Number(float64(o.Throttle.Burst))
		}
		cfnStage.SetDefaultRouteSettings(settings)
	}
	if len(o.RouteThrottle) > 0 {
		// RouteSettings is a JSON map that jsii passes through as is, so
		// its values are spelled as CloudFormation spells them.
		settings := map[string]any{}
		for key, t := range o.RouteThrottle {
			s := map[string]any{"ThrottlingRateLimit": t.RatePerSecond, "ThrottlingBurstLimit": t.Burst}
			if o.ExecutionLogLevel != "" {
				s["LoggingLevel"] = o.ExecutionLogLevel
				s["DataTraceEnabled"] = o.DataTrace
			}
			settings[key] = s
		}
		cfnStage.SetRouteSettings(settings)
	}
	if o.AccountRole && len(logGroupArns) > 0 {
		role := awsiam.NewRole(scope, jsii.String("ApiGatewayLogsRole"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
			Description: jsii.String("API Gateway writes the mullet app's stage logs"),
		})
		var resources []*string
		for _, arn := range logGroupArns {
			resources = append(resources, arn)
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
			Resources: &resources,
		}))
		account := awsapigateway.NewCfnAccount(scope, jsii.String("ApiGatewayAccount"), &awsapigateway.CfnAccountProps{
			CloudWatchRoleArn: role.RoleArn(),
		})
		cfnStage.Node().AddDependency(account)
	}
	if o.Alarms != nil {
		c.addAlarms(scope, o.Alarms, stageName)
	}
}

// addAlarms adds one alarm per failure an operator must hear of: the
// integration failing or timing out (IntegrationError), API Gateway's own
// 5xx (ExecutionError), the function throttled (Throttles) or failing
// (Errors).
func (c *webSocketApp) addAlarms(scope constructs.Construct, a *Alarms, stageName string) {
	period := a.Period
	if period == nil {
		period = awscdk.Duration_Minutes(jsii.Number(5))
	}
	threshold := a.Threshold
	if threshold == 0 {
		threshold = 1
	}
	apiDims := &map[string]*string{"ApiId": c.api.ApiId(), "Stage": jsii.String(stageName)}
	fnDims := &map[string]*string{"FunctionName": c.function.FunctionName()}
	for _, m := range []struct {
		id, namespace, metric, description string
		dims                               *map[string]*string
	}{
		{"IntegrationErrors", "AWS/ApiGateway", "IntegrationError", "the function failed or timed out on a route (the client got an error frame)", apiDims},
		{"ExecutionErrors", "AWS/ApiGateway", "ExecutionError", "API Gateway failed to run routes (5xx)", apiDims},
		{"FunctionThrottles", "AWS/Lambda", "Throttles", "the function was throttled (concurrency exhausted)", fnDims},
		{"FunctionErrors", "AWS/Lambda", "Errors", "the function returned an invocation error", fnDims},
	} {
		alarm := awscloudwatch.NewAlarm(scope, jsii.String("Alarm"+m.id), &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String("mullet: " + m.description),
			Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:     jsii.String(m.namespace),
				MetricName:    jsii.String(m.metric),
				DimensionsMap: m.dims,
				Statistic:     jsii.String("Sum"),
				Period:        period,
			}),
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		if a.Topic != nil {
			action := awscloudwatchactions.NewSnsAction(a.Topic)
			alarm.AddAlarmAction(action)
			alarm.AddOkAction(action)
		}
		c.alarms = append(c.alarms, alarm)
	}
}
