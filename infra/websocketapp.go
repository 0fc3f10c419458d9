package infra

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/manifest"
)

// Defaults for WebSocketAppProps.
const (
	// DefaultStageName is the stage used when StageName is empty.
	DefaultStageName = "prod"
	// DefaultMemorySize is the Lambda memory in MiB used when MemorySize is 0.
	DefaultMemorySize = 256
	// DefaultTimeoutSeconds is the Lambda timeout used when Timeout is nil:
	// API Gateway's integration timeout, past which the caller gets an error
	// whatever the function does.
	DefaultTimeoutSeconds = 29
)

// storeActions are the DynamoDB actions the runtime's store
// (store/dynamostore, its API interface) performs, and the only
// ones NewWebSocketApp grants on the table. A test keeps the two in step.
var storeActions = []string{
	"dynamodb:DescribeTable",
	"dynamodb:GetItem",
	"dynamodb:PutItem",
	"dynamodb:UpdateItem",
	"dynamodb:DeleteItem",
	"dynamodb:Query",
	"dynamodb:BatchWriteItem",
}

// connectionMethods are the @connections methods the callback client uses:
// POST (PostToConnection), GET (GetConnection), DELETE (DeleteConnection).
var connectionMethods = []string{"POST", "GET", "DELETE"}

// WebSocketAppProps configures NewWebSocketApp. Zero values mean defaults;
// NewWebSocketApp never modifies the caller's props.
type WebSocketAppProps struct {
	// Manifest describes the app: routes, schemas, route selection
	// expression. Required; from the app's Manifest method.
	Manifest *manifest.Manifest
	// MainPackageDir is the directory of the app's main package, the one
	// that calls mullet.Main. Required. A relative path is relative to the
	// CDK program's working directory (the directory of cdk.json).
	MainPackageDir string

	// StageName is the API Gateway stage. Default: the stage named in the
	// CDK context (StageContext, set by mullet deploy -stage), else
	// DefaultStageName.
	StageName string
	// MemorySize is the Lambda memory in MiB. Default DefaultMemorySize.
	MemorySize int
	// Timeout is the Lambda timeout. Default DefaultTimeoutSeconds.
	Timeout awscdk.Duration
	// LogRetention is how long the function's logs are kept. Default one
	// month.
	LogRetention awslogs.RetentionDays
	// TableRemovalPolicy decides what happens to the table when it leaves
	// the stack. Default RETAIN: connection state outlives a mistaken
	// `cdk destroy`.
	TableRemovalPolicy awscdk.RemovalPolicy
	// PointInTimeRecovery turns on the table's continuous backups.
	PointInTimeRecovery bool
	// ConnectAuthorizer, if set, guards the $connect route.
	ConnectAuthorizer *ConnectAuthorizer
	// Observability adds stage logs, throttling, alarms and tracing. nil:
	// none of them (the function's own log group is always there).
	Observability *Observability
	// APIKeys are the API keys of an app that requires keys on $connect,
	// each in one of the usage plans its manifest declares.
	APIKeys []APIKey
	// Environment holds extra environment variables for the function. It
	// may not set runtimeenv.Table, runtimeenv.CallbackURL or runtimeenv.Stage.
	Environment map[string]string
}

// ConnectAuthorizer guards $connect, the only WebSocket route API Gateway
// authorizes. Set exactly one of Function and IAM.
type ConnectAuthorizer struct {
	// Function is a Lambda REQUEST authorizer: API Gateway calls it with
	// the identity sources and connects only if it allows.
	Function awslambda.IFunction
	// IdentitySource lists where the authorizer's input comes from, e.g.
	// "route.request.querystring.token" (browsers cannot set headers on a
	// WebSocket). Empty means the CDK's default,
	// "route.request.header.Authorization". A request missing any of them
	// is refused with 401 without calling Function.
	IdentitySource []string
	// IAM requires $connect requests to be signed with SigV4 by a
	// principal allowed execute-api:Invoke on the API.
	IAM bool
}

// WebSocketApp is the infrastructure of one mullet app.
type WebSocketApp interface {
	constructs.Construct
	// Api is the WebSocket API.
	Api() awsapigatewayv2.WebSocketApi
	// Stage is the API's stage.
	Stage() awsapigatewayv2.WebSocketStage
	// Route returns the route with the given key, or nil.
	Route(key string) awsapigatewayv2.WebSocketRoute
	// Model returns the request model of the route with the given key, or
	// nil if the route has no schema.
	Model(routeKey string) awsapigatewayv2.CfnModel
	// Table is the DynamoDB table.
	Table() awsdynamodb.Table
	// Function is the Lambda function that serves every route.
	Function() awslambda.Function
	// LogGroup receives the function's logs.
	LogGroup() awslogs.LogGroup
	// WebSocketURL is the URL clients connect to:
	// wss://{apiId}.execute-api.{region}.amazonaws.com/{stage}.
	WebSocketURL() *string
	// CallbackURL is the stage's @connections endpoint:
	// https://{apiId}.execute-api.{region}.amazonaws.com/{stage}.
	CallbackURL() *string
	// GrantManageConnections lets grantee post to, get and delete this
	// stage's connections (execute-api:ManageConnections on
	// {stage}/{POST,GET,DELETE}/@connections/*), e.g. for a scheduled
	// function that pushes to clients.
	GrantManageConnections(grantee awsiam.IGrantable) awsiam.Grant
	// AccessLogGroup receives the stage's access log; nil unless
	// Observability.AccessLog.
	AccessLogGroup() awslogs.LogGroup
	// ExecutionLogGroup receives the stage's execution log; nil unless
	// Observability.ExecutionLogLevel is set.
	ExecutionLogGroup() awslogs.LogGroup
	// Alarms are the alarms Observability.Alarms asked for.
	Alarms() []awscloudwatch.Alarm
	// GrantConnect lets grantee open connections to an app whose $connect
	// requires IAM: execute-api:Invoke on exactly this API, stage and
	// $connect route.
	GrantConnect(grantee awsiam.IGrantable) awsiam.Grant
	// APIKey returns the API key of props.APIKeys with the given name, or
	// nil.
	APIKey(name string) awsapigatewayv2.ApiKey
	// GrantStore lets grantee use the table as the runtime's store does,
	// with only the DynamoDB actions the store performs.
	GrantStore(grantee awsiam.IGrantable) awsiam.Grant
}

type webSocketApp struct {
	constructs.Construct
	api      awsapigatewayv2.WebSocketApi
	stage    awsapigatewayv2.WebSocketStage
	routes   map[string]awsapigatewayv2.WebSocketRoute
	models   map[string]awsapigatewayv2.CfnModel
	table    awsdynamodb.Table
	function awslambda.Function
	logGroup awslogs.LogGroup

	accessLogs, executionLogs awslogs.LogGroup // nil unless Observability asks
	alarms                    []awscloudwatch.Alarm
	apiKeys                   map[string]awsapigatewayv2.ApiKey
}

// NewWebSocketApp defines the infrastructure of the app described by
// props.Manifest, with its Lambda code built from props.MainPackageDir:
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc \
//	    -trimpath -buildvcs=false -ldflags "-s -w" -o <asset>/bootstrap .
//
// The build runs once, here, and is reproducible: the same source gives the
// same binary and so the same asset hash, and an unchanged app deploys no
// new code. The stack gets outputs WebSocketURL, CallbackURL and TableName
// (prefixed with id if the stack already has outputs of those names).
//
// NewWebSocketApp panics if props are invalid or the build fails.
func NewWebSocketApp(scope constructs.Construct, id *string, props *WebSocketAppProps) WebSocketApp {
	if props == nil {
		panic("infra: NewWebSocketApp: props are required")
	}
	p := *props
	m := p.Manifest
	if m == nil {
		panic("infra: NewWebSocketApp: props.Manifest is required")
	}
	if err := m.Validate(); err != nil {
		panic("infra: NewWebSocketApp: " + err.Error())
	}
	if p.MainPackageDir == "" {
		panic("infra: NewWebSocketApp: props.MainPackageDir is required: the directory of the app's main package")
	}
	if stage := stageFromContext(scope); stage != "" {
		if p.StageName != "" && p.StageName != stage {
			panic(fmt.Sprintf("infra: NewWebSocketApp: props.StageName is %q but the CDK context %s (mullet deploy -stage) names %q; set only one", p.StageName, StageContext, stage))
		}
		p.StageName = stage
	}
	if p.StageName == "" {
		p.StageName = DefaultStageName
	}
	if p.MemorySize == 0 {
		p.MemorySize = DefaultMemorySize
	}
	if p.Timeout == nil {
		p.Timeout = awscdk.Duration_Seconds(jsii.Number(DefaultTimeoutSeconds))
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_MONTH
	}
	if p.TableRemovalPolicy == "" {
		p.TableRemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	for _, k := range []string{runtimeenv.Table, runtimeenv.CallbackURL, runtimeenv.Stage, runtimeenv.SchedulerRoleARN, runtimeenv.ScheduleGroup} {
		if _, ok := p.Environment[k]; ok {
			panic(fmt.Sprintf("infra: NewWebSocketApp: props.Environment may not set %s; NewWebSocketApp sets it", k))
		}
	}
	models, err := modelSchemas(m)
	if err != nil {
		panic("infra: NewWebSocketApp: " + err.Error())
	}
	if p.Observability != nil {
		routes := make(map[string]bool, len(m.Routes))
		for _, r := range m.Routes {
			routes[r.Key] = true
		}
		if err := p.Observability.validate(routes); err != nil {
			panic("infra: NewWebSocketApp: " + err.Error())
		}
	}
	if err := validateAPIKeys(m, p.APIKeys); err != nil {
		panic("infra: NewWebSocketApp: " + err.Error())
	}
	auth := m.ConnectAuth
	if auth == nil {
		auth = &manifest.ConnectAuth{}
	}
	if auth.IAM {
		switch a := p.ConnectAuthorizer; {
		case a == nil:
			p.ConnectAuthorizer = &ConnectAuthorizer{IAM: true}
		case a.Function != nil:
			panic("infra: NewWebSocketApp: the app requires IAM on $connect, which excludes props.ConnectAuthorizer.Function")
		}
	}
	authorizer := connectAuthorizer(p.ConnectAuthorizer)
	if authorizer != nil {
		if _, ok := m.Route(manifest.RouteConnect); !ok {
			panic("infra: NewWebSocketApp: props.ConnectAuthorizer is set but the manifest has no $connect route")
		}
	}

	// Children hang off the jsii construct, not off c: jsii cannot pass a
	// Go struct that embeds a construct as a scope.
	this := constructs.NewConstruct(scope, id)
	c := &webSocketApp{
		Construct: this,
		routes:    make(map[string]awsapigatewayv2.WebSocketRoute, len(m.Routes)),
		apiKeys:   make(map[string]awsapigatewayv2.ApiKey),
		models:    make(map[string]awsapigatewayv2.CfnModel, len(models)),
	}
	stageOf := awscdk.Stage_Of(this)
	if stageOf == nil {
		panic("infra: NewWebSocketApp: scope must be inside an App (or Stage): the Lambda code is an asset")
	}

	// The code first: a build failure is the likeliest mistake, and it is
	// reported before anything else is defined.
	buildDir := filepath.Join(*stageOf.AssetOutdir(), ".mullet-build", *this.Node().Addr())
	if err := buildLambda(p.MainPackageDir, buildDir); err != nil {
		panic("infra: NewWebSocketApp: " + err.Error())
	}

	apiProps := &awsapigatewayv2.WebSocketApiProps{
		ApiName:                  jsii.String(m.Name),
		Description:              jsii.String("mullet app " + m.Name),
		RouteSelectionExpression: jsii.String(m.RouteSelectionExpression),
	}
	if auth.APIKeys != nil {
		apiProps.ApiKeySelectionExpression = awsapigatewayv2.WebSocketApiKeySelectionExpression_HEADER_X_API_KEY()
		if auth.APIKeys.KeySelectionExpression() == manifest.APIKeyFromAuthorizer {
			apiProps.ApiKeySelectionExpression = awsapigatewayv2.WebSocketApiKeySelectionExpression_AUTHORIZER_USAGE_IDENTIFIER_KEY()
		}
	}
	c.api = awsapigatewayv2.NewWebSocketApi(this, jsii.String("Api"), apiProps)
	c.stage = awsapigatewayv2.NewWebSocketStage(this, jsii.String("Stage"), &awsapigatewayv2.WebSocketStageProps{
		WebSocketApi: c.api,
		StageName:    jsii.String(p.StageName),
		AutoDeploy:   jsii.Bool(true),
	})

	c.table = awsdynamodb.NewTable(this, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String("ttl"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(p.PointInTimeRecovery),
		},
		RemovalPolicy: p.TableRemovalPolicy,
	})

	// An explicit log group and role: the function's default role carries
	// AWSLambdaBasicExecutionRole (logs:* on "*") and LogRetention adds a
	// custom resource whose policy has wildcard resources.
	c.logGroup = awslogs.NewLogGroup(this, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(this, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("mullet app " + m.Name + ": logs, its table, its stage's @connections"),
	})
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      role,
		Actions:      jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		ResourceArns: jsii.Strings(*c.logGroup.LogGroupArn()),
	})
	c.GrantStore(role)
	c.GrantManageConnections(role)

	env := map[string]*string{
		runtimeenv.Table:       c.table.TableName(),
		runtimeenv.CallbackURL: c.stage.CallbackUrl(),
		runtimeenv.Stage:       jsii.String(p.StageName),
	}
	for k, v := range p.Environment {
		env[k] = jsii.String(v)
	}
	var timers *schedulerTimers
	if m.Timers() {
		timers = newSchedulerTimers(this, role)
		env[runtimeenv.SchedulerRoleARN] = timers.role.RoleArn()
		env[runtimeenv.ScheduleGroup] = timers.group.Ref()
	}
	tracing := awslambda.Tracing_DISABLED
	if o := p.Observability; o != nil {
		if o.Tracing {
			tracing = awslambda.Tracing_ACTIVE
		}
		if o.OTLPEndpoint != "" {
			env[runtimeenv.OTelEndpoint] = jsii.String(o.OTLPEndpoint)
		}
		if o.Metrics {
			env[runtimeenv.Metrics] = jsii.String(runtimeenv.MetricsEMF)
		}
	}
	c.function = awslambda.NewFunction(this, jsii.String("Function"), &awslambda.FunctionProps{
		Tracing:      tracing,
		Description:  jsii.String("mullet app " + m.Name),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(buildDir), nil),
		MemorySize:   jsii.Number(p.MemorySize),
		Timeout:      p.Timeout,
		Environment:  &env,
		Role:         role,
		LogGroup:     c.logGroup,
	})

	if timers != nil {
		c.function.GrantInvoke(timers.role)
	}

	// An app that decides $connect itself (framework App.Authorize) gets
	// API Gateway's Lambda REQUEST authorizer, served by its own function,
	// unless props name another authorizer.
	if authorizer == nil && m.Authorizer != nil {
		var props awsapigatewayv2authorizers.WebSocketLambdaAuthorizerProps
		if len(m.Authorizer.IdentitySources) > 0 {
			props.IdentitySource = jsii.Strings(m.Authorizer.IdentitySources...)
		}
		authorizer = awsapigatewayv2authorizers.NewWebSocketLambdaAuthorizer(jsii.String("ConnectAuthorizer"), c.function, &props)
	}

	integration := awsapigatewayv2integrations.NewWebSocketLambdaIntegration(jsii.String("Integration"), c.function, nil)
	for _, r := range m.Routes {
		opts := &awsapigatewayv2.WebSocketRouteOptions{
			Integration:    integration,
			ReturnResponse: jsii.Bool(r.TwoWay),
		}
		if r.Key == manifest.RouteConnect && authorizer != nil {
			opts.Authorizer = authorizer
		}
		route := c.api.AddRoute(jsii.String(r.Key), opts)
		c.routes[r.Key] = route
		if r.Key == manifest.RouteConnect && auth.APIKeys != nil {
			route.Node().DefaultChild().(awsapigatewayv2.CfnRoute).SetApiKeyRequired(true)
		}
		schema, ok := models[r.Key]
		if !ok {
			continue
		}
		model := awsapigatewayv2.NewCfnModel(this, jsii.String("Model"+r.Model), &awsapigatewayv2.CfnModelProps{
			ApiId:       c.api.ApiId(),
			Name:        jsii.String(r.Model),
			ContentType: jsii.String("application/json"),
			Schema:      schema,
		})
		c.models[r.Key] = model
		// The L2 route has no request models: set them on the CfnRoute. A
		// constant selection expression picks the one model for every
		// frame, so API Gateway validates each frame of the route before
		// invoking the function.
		cfnRoute := route.Node().DefaultChild().(awsapigatewayv2.CfnRoute)
		cfnRoute.SetModelSelectionExpression(jsii.String("$default"))
		cfnRoute.SetRequestModels(map[string]any{"$default": r.Model})
		cfnRoute.AddResourceDependency(model, jsii.String("API Gateway validates frames of this route against the model"))
	}

	if p.Observability != nil {
		c.observe(this, p.Observability, p.StageName, p.LogRetention)
	}
	if auth.APIKeys != nil {
		c.usagePlans(this, m.Name, auth.APIKeys, p.APIKeys)
	}
	c.outputs(id)
	return c
}

// schedulerTimers is what an app whose barriers tell waiting participants
// of their timeout needs: a schedule group of its own, and a role that
// EventBridge Scheduler assumes to invoke the function (granted once the
// function exists). The function may create schedules in that group only,
// and pass that role to EventBridge Scheduler only.
type schedulerTimers struct {
	group awsscheduler.CfnScheduleGroup
	role  awsiam.Role
}

func newSchedulerTimers(scope constructs.Construct, fnRole awsiam.Role) *schedulerTimers {
	group := awsscheduler.NewCfnScheduleGroup(scope, jsii.String("Timers"), &awsscheduler.CfnScheduleGroupProps{})
	stack := awscdk.Stack_Of(scope)
	role := awsiam.NewRole(scope, jsii.String("TimersRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
		}),
		Description: jsii.String("EventBridge Scheduler delivers barrier timeouts to the mullet app's function"),
	})
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: fnRole,
		Actions: jsii.Strings("scheduler:CreateSchedule"),
		ResourceArns: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("scheduler"), Resource: jsii.String("schedule"),
			ResourceName: jsii.String(*group.Ref() + "/*"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME,
		})),
	})
	fnRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("iam:PassRole"),
		Resources:  jsii.Strings(*role.RoleArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "scheduler.amazonaws.com"}},
	}))
	return &schedulerTimers{group: group, role: role}
}

// outputs adds the stack outputs, named plainly unless the stack already has
// outputs of those names (a second app in the stack).
func (c *webSocketApp) outputs(id *string) {
	stack := awscdk.Stack_Of(c.Construct)
	prefix := ""
	if stack.Node().TryFindChild(jsii.String("WebSocketURL")) != nil {
		prefix = alphanumeric(*id)
	}
	for _, o := range []struct {
		name, description string
		value             *string
	}{
		{"WebSocketURL", "URL clients connect to", c.WebSocketURL()},
		{"CallbackURL", "@connections endpoint of the stage", c.CallbackURL()},
		{"TableName", "DynamoDB table of connections, state, groups and barriers", c.table.TableName()},
	} {
		awscdk.NewCfnOutput(stack, jsii.String(prefix+o.name), &awscdk.CfnOutputProps{
			Value:       o.value,
			Description: jsii.String(o.description),
		})
	}
}

func (c *webSocketApp) Api() awsapigatewayv2.WebSocketApi     { return c.api }
func (c *webSocketApp) Stage() awsapigatewayv2.WebSocketStage { return c.stage }
func (c *webSocketApp) Table() awsdynamodb.Table              { return c.table }
func (c *webSocketApp) Function() awslambda.Function          { return c.function }
func (c *webSocketApp) LogGroup() awslogs.LogGroup            { return c.logGroup }
func (c *webSocketApp) AccessLogGroup() awslogs.LogGroup      { return c.accessLogs }
func (c *webSocketApp) ExecutionLogGroup() awslogs.LogGroup   { return c.executionLogs }
func (c *webSocketApp) Alarms() []awscloudwatch.Alarm         { return c.alarms }
func (c *webSocketApp) WebSocketURL() *string                 { return c.stage.Url() }
func (c *webSocketApp) CallbackURL() *string                  { return c.stage.CallbackUrl() }

func (c *webSocketApp) Route(key string) awsapigatewayv2.WebSocketRoute { return c.routes[key] }

func (c *webSocketApp) Model(routeKey string) awsapigatewayv2.CfnModel { return c.models[routeKey] }

func (c *webSocketApp) GrantManageConnections(grantee awsiam.IGrantable) awsiam.Grant {
	stack := awscdk.Stack_Of(c.Construct)
	arns := make([]*string, len(connectionMethods))
	for i, method := range connectionMethods {
		arns[i] = stack.FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("execute-api"),
			Resource:     c.api.ApiId(),
			ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
			ResourceName: jsii.String(*c.stage.StageName() + "/" + method + "/@connections/*"),
		})
	}
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("execute-api:ManageConnections"),
		ResourceArns: &arns,
	})
}

func (c *webSocketApp) GrantStore(grantee awsiam.IGrantable) awsiam.Grant {
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings(storeActions...),
		ResourceArns: jsii.Strings(*c.table.TableArn()),
	})
}

func connectAuthorizer(a *ConnectAuthorizer) awsapigatewayv2.IWebSocketRouteAuthorizer {
	switch {
	case a == nil:
		return nil
	case a.IAM && a.Function != nil:
		panic("infra: NewWebSocketApp: props.ConnectAuthorizer: set Function or IAM, not both")
	case a.IAM:
		if len(a.IdentitySource) > 0 {
			panic("infra: NewWebSocketApp: props.ConnectAuthorizer: IdentitySource applies to a Lambda authorizer, not IAM")
		}
		return awsapigatewayv2authorizers.NewWebSocketIamAuthorizer()
	case a.Function != nil:
		var props awsapigatewayv2authorizers.WebSocketLambdaAuthorizerProps
		if len(a.IdentitySource) > 0 {
			props.IdentitySource = jsii.Strings(a.IdentitySource...)
		}
		return awsapigatewayv2authorizers.NewWebSocketLambdaAuthorizer(jsii.String("ConnectAuthorizer"), a.Function, &props)
	default:
		panic("infra: NewWebSocketApp: props.ConnectAuthorizer: set Function or IAM")
	}
}

// modelSchemas decodes each route schema into the value that goes into its
// CfnModel, by route key, refusing schemas the template cannot carry
// exactly.
func modelSchemas(m *manifest.Manifest) (map[string]any, error) {
	out := make(map[string]any)
	for _, r := range m.Routes {
		if len(r.Schema) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(r.Schema))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("route %q: schema: %w", r.Key, err)
		}
		if _, ok := v.(map[string]any); !ok {
			return nil, fmt.Errorf("route %q: schema is not a JSON object", r.Key)
		}
		v, err := templateValue(v, "")
		if err != nil {
			return nil, fmt.Errorf("route %q: schema: %w", r.Key, err)
		}
		out[r.Key] = v
	}
	return out, nil
}

// templateValue converts decoded JSON into values the template renders as the
// same JSON: numbers become float64 when that is exact. It refuses what
// CloudFormation would read as something else: an object whose only key is
// Ref, Condition or Fn::* is an intrinsic function, not data.
func templateValue(v any, path string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k := range v {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return nil, fmt.Errorf("%s: an object whose only key is %q reads as a CloudFormation intrinsic function", pathOrRoot(path), k)
				}
			}
		}
		for k, e := range v {
			c, err := templateValue(e, path+"/"+k)
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
		return v, nil
	case []any:
		for i, e := range v {
			c, err := templateValue(e, fmt.Sprintf("%s/%d", path, i))
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
		return v, nil
	case json.Number:
		// The template writes the shortest decimal that reads back as the
		// float64; it must be the number the schema says.
		f, err := v.Float64()
		want, ok := new(big.Rat).SetString(v.String())
		got, ok2 := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
		if err != nil || !ok || !ok2 || got.Cmp(want) != 0 {
			return nil, fmt.Errorf("%s: number %s does not survive as a float64, so the template would change it", pathOrRoot(path), v)
		}
		return f, nil
	default:
		return v, nil
	}
}

func pathOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func alphanumeric(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
