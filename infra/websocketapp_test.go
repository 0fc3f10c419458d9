package infra_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/infra"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/store/dynamostore"
)

func TestAPIAndRoutes(t *testing.T) {
	c := defaultCfn(t)
	m := testManifest(t)

	api := c.one(t, "AWS::ApiGatewayV2::Api")
	if got := api.Properties["ProtocolType"]; got != "WEBSOCKET" {
		t.Errorf("Api ProtocolType = %v, want WEBSOCKET", got)
	}
	if got := api.Properties["RouteSelectionExpression"]; got != m.RouteSelectionExpression {
		t.Errorf("Api RouteSelectionExpression = %v, want %q", got, m.RouteSelectionExpression)
	}
	if got := api.Properties["Name"]; got != m.Name {
		t.Errorf("Api Name = %v, want %q", got, m.Name)
	}

	integ := c.one(t, "AWS::ApiGatewayV2::Integration")
	if got := integ.Properties["IntegrationType"]; got != "AWS_PROXY" {
		t.Errorf("Integration type = %v, want AWS_PROXY", got)
	}
	fn := c.one(t, "AWS::Lambda::Function")
	if uri := render(integ.Properties["IntegrationUri"]); !strings.Contains(uri, "{"+fn.ID+".Arn}") {
		t.Errorf("Integration URI %s does not invoke the function %s", uri, fn.ID)
	}

	var keys []string
	for _, r := range c.resources("AWS::ApiGatewayV2::Route") {
		keys = append(keys, r.Properties["RouteKey"].(string))
		if got, want := render(r.Properties["Target"]), "integrations/{"+integ.ID+"}"; got != want {
			t.Errorf("route %v Target = %s, want %s", r.Properties["RouteKey"], got, want)
		}
		if got := r.Properties["AuthorizationType"]; got != "NONE" {
			t.Errorf("route %v AuthorizationType = %v, want NONE", r.Properties["RouteKey"], got)
		}
	}
	var want []string
	for _, r := range m.Routes {
		want = append(want, r.Key)
	}
	if !equalSets(keys, want) {
		t.Errorf("route keys = %v, want the manifest's %v", keys, want)
	}

	// API Gateway may invoke the function for every route.
	perms := c.resources("AWS::Lambda::Permission")
	if len(perms) != len(m.Routes) {
		t.Errorf("%d Lambda permissions, want one per route (%d)", len(perms), len(m.Routes))
	}
	for _, p := range perms {
		if p.Properties["Principal"] != "apigateway.amazonaws.com" || p.Properties["Action"] != "lambda:InvokeFunction" {
			t.Errorf("permission %s: %v", p.ID, p.Properties)
		}
	}
}

func TestModels(t *testing.T) {
	c := defaultCfn(t)
	m := testManifest(t)

	models := map[string]resource{}
	for _, r := range c.resources("AWS::ApiGatewayV2::Model") {
		models[r.Properties["Name"].(string)] = r
	}
	routes := map[string]resource{}
	for _, r := range c.resources("AWS::ApiGatewayV2::Route") {
		routes[r.Properties["RouteKey"].(string)] = r
	}
	n := 0
	for _, mr := range m.Routes {
		route := routes[mr.Key]
		if len(mr.Schema) == 0 {
			if v, ok := route.Properties["RequestModels"]; ok {
				t.Errorf("route %q has no schema but RequestModels %v", mr.Key, v)
			}
			if v, ok := route.Properties["ModelSelectionExpression"]; ok {
				t.Errorf("route %q has no schema but ModelSelectionExpression %v", mr.Key, v)
			}
			continue
		}
		n++
		model, ok := models[mr.Model]
		if !ok {
			t.Errorf("no model %q for route %q", mr.Model, mr.Key)
			continue
		}
		if got, want := canonical(t, model.Properties["Schema"]), canonical(t, mr.Schema); got != want {
			t.Errorf("model %s schema:\n got %s\nwant %s", mr.Model, got, want)
		}
		if got := model.Properties["ContentType"]; got != "application/json" {
			t.Errorf("model %s ContentType = %v", mr.Model, got)
		}
		if got := route.Properties["ModelSelectionExpression"]; got != "$default" {
			t.Errorf("route %q ModelSelectionExpression = %v, want $default", mr.Key, got)
		}
		if got, want := canonical(t, route.Properties["RequestModels"]), canonical(t, map[string]string{"$default": mr.Model}); got != want {
			t.Errorf("route %q RequestModels = %s, want %s", mr.Key, got, want)
		}
		if !slices.Contains(dependsOn(route), model.ID) {
			t.Errorf("route %q DependsOn %v, want it to include its model %s", mr.Key, dependsOn(route), model.ID)
		}
	}
	if len(models) != n {
		t.Errorf("%d models, want %d (one per route with a schema)", len(models), n)
	}
}

func TestRouteResponses(t *testing.T) {
	c := defaultCfn(t)
	m := testManifest(t)

	responses := map[string]resource{} // by route logical ID
	for _, r := range c.resources("AWS::ApiGatewayV2::RouteResponse") {
		if got := r.Properties["RouteResponseKey"]; got != "$default" {
			t.Errorf("route response %s key = %v, want $default", r.ID, got)
		}
		responses[strings.Trim(render(r.Properties["RouteId"]), "{}")] = r
	}
	twoWay := 0
	for _, route := range c.resources("AWS::ApiGatewayV2::Route") {
		key := route.Properties["RouteKey"].(string)
		mr, _ := m.Route(key)
		_, hasResponse := responses[route.ID]
		rrse, hasRRSE := route.Properties["RouteResponseSelectionExpression"]
		if mr.TwoWay {
			twoWay++
			if !hasResponse {
				t.Errorf("two-way route %q has no route response", key)
			}
			if rrse != "$default" {
				t.Errorf("two-way route %q RouteResponseSelectionExpression = %v, want $default", key, rrse)
			}
		} else if hasResponse || hasRRSE {
			t.Errorf("one-way route %q has a route response (%v) or selection expression (%v)", key, hasResponse, rrse)
		}
	}
	if twoWay == 0 || len(responses) != twoWay {
		t.Errorf("%d route responses for %d two-way routes", len(responses), twoWay)
	}
}

func TestStage(t *testing.T) {
	c := defaultCfn(t)
	stage := c.one(t, "AWS::ApiGatewayV2::Stage")
	if stage.Properties["StageName"] != infra.DefaultStageName || stage.Properties["AutoDeploy"] != true {
		t.Errorf("stage = %v, want %s with AutoDeploy", stage.Properties, infra.DefaultStageName)
	}
}

// TestStageFromContext: the stage named in the CDK context (mullet deploy
// -stage) names the API's stage and the function's MULLET_STAGE; a name
// that cannot be part of a stack name, or one that contradicts
// props.StageName, is refused.
func TestStageFromContext(t *testing.T) {
	requireNode(t)
	withContext := func(stage any) awscdk.Stack {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &map[string]any{infra.StageContext: stage}})
		return awscdk.NewStack(app, jsii.String("Test"), nil)
	}
	stack := withContext("dev")
	infra.NewWebSocketApp(stack, jsii.String("App"), testProps(t))
	c := cfn(*assertions.Template_FromStack(stack, nil).ToJSON())
	if got := c.one(t, "AWS::ApiGatewayV2::Stage").Properties["StageName"]; got != "dev" {
		t.Errorf("StageName = %v, want dev", got)
	}
	env := c.one(t, "AWS::Lambda::Function").Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	if got := env[runtimeenv.Stage]; got != "dev" {
		t.Errorf("%s = %v, want dev", runtimeenv.Stage, got)
	}
	for _, tt := range []struct {
		name      string
		stage     any
		propStage string
		want      string
	}{
		{"underscore", "my_stage", "", "letters, digits and hyphens"},
		{"not a string", 7, "", "letters, digits and hyphens"},
		{"contradicts props", "dev", "prod", `props.StageName is "prod"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			props := testProps(t)
			props.StageName = tt.propStage
			defer func() {
				if msg := panicMessage(recover()); !strings.Contains(msg, tt.want) {
					t.Fatalf("panic %q, want it to mention %q", msg, tt.want)
				}
			}()
			infra.NewWebSocketApp(withContext(tt.stage), jsii.String("App"), props)
		})
	}
}

func TestTable(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		table := defaultCfn(t).one(t, "AWS::DynamoDB::Table")
		checkTable(t, table, false, "Retain")
	})
	t.Run("props", func(t *testing.T) {
		props := testProps(t)
		props.PointInTimeRecovery = true
		props.TableRemovalPolicy = awscdk.RemovalPolicy_DESTROY
		table := template(t, props).one(t, "AWS::DynamoDB::Table")
		checkTable(t, table, true, "Delete")
	})
}

func checkTable(t *testing.T, table resource, pitr bool, deletion string) {
	t.Helper()
	p := table.Properties
	checks := []struct {
		name      string
		got, want any
	}{
		{"KeySchema", p["KeySchema"], []map[string]string{{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}}},
		{"AttributeDefinitions", p["AttributeDefinitions"], []map[string]string{{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}}},
		{"BillingMode", p["BillingMode"], "PAY_PER_REQUEST"},
		{"TimeToLiveSpecification", p["TimeToLiveSpecification"], map[string]any{"AttributeName": "ttl", "Enabled": true}},
		{"PointInTimeRecoverySpecification", p["PointInTimeRecoverySpecification"], map[string]any{"PointInTimeRecoveryEnabled": pitr}},
		{"DeletionPolicy", table.Raw["DeletionPolicy"], deletion},
		{"UpdateReplacePolicy", table.Raw["UpdateReplacePolicy"], deletion},
	}
	for _, c := range checks {
		if got, want := canonical(t, c.got), canonical(t, c.want); got != want {
			t.Errorf("table %s = %s, want %s", c.name, got, want)
		}
	}
	if _, ok := p["GlobalSecondaryIndexes"]; ok {
		t.Error("table has global secondary indexes; the store uses none")
	}
}

func TestFunction(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		c := defaultCfn(t)
		fn := c.one(t, "AWS::Lambda::Function")
		checkFunction(t, c, fn, 256, 29, 30)
		vars := fn.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		table := c.one(t, "AWS::DynamoDB::Table")
		api := c.one(t, "AWS::ApiGatewayV2::Api")
		want := map[string]string{
			runtimeenv.Table:       "{" + table.ID + "}",
			runtimeenv.CallbackURL: "https://{" + api.ID + "}.execute-api.{AWS::Region}.{AWS::URLSuffix}/prod",
			runtimeenv.Stage:       "prod",
		}
		if len(vars) != len(want) {
			t.Errorf("environment %v, want only %v", vars, want)
		}
		for k, w := range want {
			if got := render(vars[k]); got != w {
				t.Errorf("environment %s = %s, want %s", k, got, w)
			}
		}
	})
	t.Run("props", func(t *testing.T) {
		props := testProps(t)
		props.StageName = "beta"
		props.MemorySize = 512
		props.Timeout = awscdk.Duration_Seconds(jsii.Number(10))
		props.LogRetention = awslogs.RetentionDays_ONE_WEEK
		props.Environment = map[string]string{"GREETING": "hello"}
		c := template(t, props)
		fn := c.one(t, "AWS::Lambda::Function")
		checkFunction(t, c, fn, 512, 10, 7)
		vars := fn.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		if vars["GREETING"] != "hello" || vars[runtimeenv.Stage] != "beta" || !strings.HasSuffix(render(vars[runtimeenv.CallbackURL]), "/beta") {
			t.Errorf("environment = %v", vars)
		}
		if got := c.one(t, "AWS::ApiGatewayV2::Stage").Properties["StageName"]; got != "beta" {
			t.Errorf("stage name = %v, want beta", got)
		}
	})
}

func checkFunction(t *testing.T, c cfn, fn resource, memory, timeout, retention float64) {
	t.Helper()
	p := fn.Properties
	if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" || canonical(t, p["Architectures"]) != `["arm64"]` {
		t.Errorf("function Runtime %v Handler %v Architectures %v, want provided.al2023, bootstrap, [arm64]", p["Runtime"], p["Handler"], p["Architectures"])
	}
	if p["MemorySize"] != memory || p["Timeout"] != timeout {
		t.Errorf("function MemorySize %v Timeout %v, want %v and %v", p["MemorySize"], p["Timeout"], memory, timeout)
	}
	logs := c.one(t, "AWS::Logs::LogGroup")
	if got := logs.Properties["RetentionInDays"]; got != retention {
		t.Errorf("log group retention = %v days, want %v", got, retention)
	}
	if got := render(p["LoggingConfig"].(map[string]any)["LogGroup"]); got != "{"+logs.ID+"}" {
		t.Errorf("function logs to %s, want its log group %s", got, logs.ID)
	}
	if rs := c.resources("Custom::LogRetention"); len(rs) != 0 {
		t.Errorf("template has a LogRetention custom resource: %v", rs)
	}
	code := p["Code"].(map[string]any)
	if key, _ := code["S3Key"].(string); !strings.HasSuffix(key, ".zip") {
		t.Errorf("function code %v is not a zip asset", code)
	}
}

// TestLeastPrivilege scans every IAM policy in templates with and without
// authorizers, and with the observability settings on, off and in part: no
// wildcard action or resource, ManageConnections only on this stage's
// @connections, DynamoDB only the store's actions on the table; each role
// trusted by one AWS service; the stage's log groups written by the
// account role only, and it writing nothing else; no topic, queue or log
// resource policies; Lambda permissions for a source ARN; alarms that only
// notify SNS topics.
func TestLeastPrivilege(t *testing.T) {
	templates := map[string]cfn{"defaults": defaultCfn(t)}
	templates["barrier timeouts"] = template(t, timeoutProps(t))
	templates["observability on"] = observedCfn(t)
	for name, o := range map[string]*infra.Observability{
		"observability off": {},
		// The account role with one stage log group: it may write that one.
		"access log and account role, alarms without topic": {AccessLog: true, AccountRole: true, Alarms: &infra.Alarms{}},
		// Stage logs without the account role: nobody is granted on them.
		"stage logs without account role": {AccessLog: true, ExecutionLogLevel: "ERROR", Throttle: &infra.Throttle{RatePerSecond: 1, Burst: 1}},
	} {
		props := testProps(t)
		props.Observability = o
		templates[name] = template(t, props)
	}
	templates["iam and api keys"] = authCfn(t)
	for name, a := range map[string]*infra.ConnectAuthorizer{
		"lambda authorizer": {IdentitySource: []string{"route.request.querystring.token"}},
		"iam authorizer":    {IAM: true},
	} {
		templates[name] = synth(t, func(stack awscdk.Stack) {
			props := testProps(t)
			if !a.IAM {
				a.Function = awslambda.Function_FromFunctionArn(stack, jsii.String("Authorizer"), jsii.String("arn:aws:lambda:us-east-1:123456789012:function:auth"))
			}
			props.ConnectAuthorizer = a
			infra.NewWebSocketApp(stack, jsii.String("App"), props)
		})
	}
	for name, c := range templates {
		t.Run(name, func(t *testing.T) {
			checkLeastPrivilege(t, c)
		})
	}
}

func checkLeastPrivilege(t *testing.T, c cfn) {
	t.Helper()
	api := c.one(t, "AWS::ApiGatewayV2::Api")
	table := c.one(t, "AWS::DynamoDB::Table")
	logs := c.one(t, "AWS::Lambda::Function") // the function's log group, found below
	if lc, ok := logs.Properties["LoggingConfig"].(map[string]any); ok {
		logs.ID = strings.TrimSuffix(strings.TrimPrefix(render(lc["LogGroup"]), "{"), "}")
	}

	type statement struct {
		where string
		body  map[string]any
	}
	var statements []statement
	for _, r := range c.resources("") {
		switch r.Type {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			for _, s := range list(r.Properties["PolicyDocument"].(map[string]any)["Statement"]) {
				statements = append(statements, statement{r.ID, s.(map[string]any)})
			}
		case "AWS::IAM::Role":
			if v, ok := r.Properties["ManagedPolicyArns"]; ok {
				t.Errorf("role %s attaches managed policies %s; they grant on \"*\"", r.ID, render(v))
			}
			for _, p := range list(r.Properties["Policies"]) {
				doc := p.(map[string]any)["PolicyDocument"].(map[string]any)
				for _, s := range list(doc["Statement"]) {
					statements = append(statements, statement{r.ID, s.(map[string]any)})
				}
			}
		}
	}
	if len(statements) == 0 {
		t.Fatal("no IAM policy statements found")
	}

	granted := map[string][]string{} // action -> rendered resources
	for _, s := range statements {
		if s.body["Effect"] != "Allow" {
			continue
		}
		if _, ok := s.body["NotAction"]; ok {
			t.Errorf("%s: NotAction in %v", s.where, s.body)
		}
		if _, ok := s.body["NotResource"]; ok {
			t.Errorf("%s: NotResource in %v", s.where, s.body)
		}
		var resources []string
		for _, r := range list(s.body["Resource"]) {
			res := render(r)
			if res == "*" && !xrayOnly(s.body) {
				t.Errorf("%s: resource \"*\" in %v", s.where, s.body)
			}
			resources = append(resources, res)
		}
		if len(resources) == 0 {
			t.Errorf("%s: statement without resources: %v", s.where, s.body)
		}
		for _, a := range list(s.body["Action"]) {
			action := a.(string)
			if action == "*" || strings.HasSuffix(action, ":*") || strings.Contains(action, "*") {
				t.Errorf("%s: wildcard action %q", s.where, action)
			}
			granted[action] = append(granted[action], resources...)
		}
	}

	var connections []string
	for _, m := range []string{"POST", "GET", "DELETE"} {
		connections = append(connections, "arn:{AWS::Partition}:execute-api:{AWS::Region}:{AWS::AccountId}:{"+api.ID+"}/prod/"+m+"/@connections/*")
	}
	want := map[string][]string{
		"execute-api:ManageConnections": connections,
		"logs:CreateLogStream":          {"{" + logs.ID + ".Arn}"},
		"logs:PutLogEvents":             {"{" + logs.ID + ".Arn}"},
	}
	for _, a := range storeCalls() {
		want["dynamodb:"+a] = []string{"{" + table.ID + ".Arn}"}
	}
	if groups := c.resources("AWS::Scheduler::ScheduleGroup"); len(groups) > 0 {
		// Timers: schedules in the app's own group only, its own role
		// passed to EventBridge Scheduler only, which may invoke the
		// function only.
		fn, role := c.one(t, "AWS::Lambda::Function"), c.roleTrusting(t, "scheduler.amazonaws.com")
		want["scheduler:CreateSchedule"] = []string{"arn:{AWS::Partition}:scheduler:{AWS::Region}:{AWS::AccountId}:schedule/{" + groups[0].ID + "}/*"}
		want["iam:PassRole"] = []string{"{" + role.ID + ".Arn}"}
		want["lambda:InvokeFunction"] = []string{"{" + fn.ID + ".Arn}", "{" + fn.ID + ".Arn}:*"}
	}
	if groups := c.resources("AWS::ApiGateway::Account"); len(groups) > 0 {
		// Stage logs: API Gateway's role may write the stage's two log
		// groups only.
		var stageLogs []string
		for _, r := range c.resources("AWS::Logs::LogGroup") {
			if r.ID != logs.ID {
				stageLogs = append(stageLogs, "{"+r.ID+".Arn}")
			}
		}
		want["logs:CreateLogStream"] = append(want["logs:CreateLogStream"], stageLogs...)
		want["logs:PutLogEvents"] = append(want["logs:PutLogEvents"], stageLogs...)
		want["logs:DescribeLogStreams"] = stageLogs
	}
	if fn := c.one(t, "AWS::Lambda::Function"); render(fn.Properties["TracingConfig"]) == `{"Mode":"Active"}` {
		// X-Ray's write actions have no resource-level permissions:
		// "*" is the only resource they take.
		want["xray:PutTraceSegments"] = []string{"*"}
		want["xray:PutTelemetryRecords"] = []string{"*"}
	}
	if connect := c.resources("AWS::ApiGateway::UsagePlan"); len(connect) > 0 {
		// TestConnectAuth's client role may connect, to this stage's
		// $connect only.
		want["execute-api:Invoke"] = []string{"arn:{AWS::Partition}:execute-api:{AWS::Region}:{AWS::AccountId}:{" + api.ID + "}/prod/$connect"}
	}
	for action, resources := range granted {
		w, ok := want[action]
		if !ok {
			t.Errorf("unexpected action %s on %v", action, resources)
			continue
		}
		if !equalSets(resources, w) {
			t.Errorf("%s granted on %v, want %v", action, resources, w)
		}
	}
	for action := range want {
		if _, ok := granted[action]; !ok {
			t.Errorf("action %s not granted", action)
		}
	}
	checkRoles(t.Errorf, c, logs.ID)
	checkResourcePolicies(t.Errorf, c)
}

// checkRoles checks each role apart: every role may be assumed by one AWS
// service only; the role API Gateway writes stage logs with (the account
// role) may write the stage's log groups and nothing else; no other role may
// touch them; no role but the account role may describe log streams.
func checkRoles(errorf func(format string, args ...any), c cfn, functionLogs string) {
	stageLogs := map[string]bool{}
	for _, r := range c.resources("AWS::Logs::LogGroup") {
		if r.ID != functionLogs {
			stageLogs["{"+r.ID+".Arn}"] = true
		}
	}
	grants := map[string]map[string][]string{} // role -> action -> resources
	grant := func(role string, doc any) {
		if grants[role] == nil {
			grants[role] = map[string][]string{}
		}
		for _, st := range list(asObject(doc)["Statement"]) {
			s := st.(map[string]any)
			if s["Effect"] != "Allow" {
				continue
			}
			for _, a := range list(s["Action"]) {
				for _, r := range list(s["Resource"]) {
					grants[role][a.(string)] = append(grants[role][a.(string)], render(r))
				}
			}
		}
	}
	for _, p := range c.resources("AWS::IAM::Policy") {
		for _, r := range list(p.Properties["Roles"]) {
			grant(strings.Trim(render(r), "{}"), p.Properties["PolicyDocument"])
		}
	}
	for _, role := range c.resources("AWS::IAM::Role") {
		for _, p := range list(role.Properties["Policies"]) {
			grant(role.ID, asObject(p)["PolicyDocument"])
		}
		var services []string
		for _, st := range list(asObject(role.Properties["AssumeRolePolicyDocument"])["Statement"]) {
			s := st.(map[string]any)
			principal := asObject(s["Principal"])
			service, ok := principal["Service"].(string)
			if s["Effect"] != "Allow" || s["Action"] != "sts:AssumeRole" || len(principal) != 1 || !ok || !strings.HasSuffix(service, ".amazonaws.com") {
				errorf("role %s: trust statement %s; want one AWS service allowed sts:AssumeRole", role.ID, render(s))
				continue
			}
			services = append(services, service)
		}
		if len(services) != 1 {
			errorf("role %s is trusted by %v, want one AWS service", role.ID, services)
		}
		actions := grants[role.ID]
		if len(services) == 1 && services[0] == "apigateway.amazonaws.com" {
			want := []string{"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"}
			if got := sortedKeys(actions); !equalSets(got, want) {
				errorf("the account role %s may %v, want %v", role.ID, got, want)
			}
			for a, resources := range actions {
				for _, r := range resources {
					if !stageLogs[r] {
						errorf("the account role %s may %s on %s, which is not a stage log group", role.ID, a, r)
					}
				}
				if len(resources) != len(stageLogs) {
					errorf("the account role %s may %s on %v, want the stage log groups %v", role.ID, a, resources, sortedKeys(stageLogs))
				}
			}
			continue
		}
		for a, resources := range actions {
			if a == "logs:DescribeLogStreams" {
				errorf("role %s may %s", role.ID, a)
			}
			for _, r := range resources {
				if stageLogs[r] {
					errorf("role %s may %s on the stage log group %s", role.ID, a, r)
				}
			}
		}
	}
	if len(c.resources("AWS::ApiGateway::Account")) == 0 {
		for _, role := range c.resources("AWS::IAM::Role") {
			if strings.Contains(render(role.Properties["AssumeRolePolicyDocument"]), "apigateway.amazonaws.com") {
				errorf("role %s trusts API Gateway without an account setting using it", role.ID)
			}
		}
	}
}

// checkResourcePolicies checks what the template grants outside IAM roles:
// no topic, queue or log resource policies; Lambda permissions only to an
// AWS service, for a source ARN; alarms that only notify SNS topics (no
// EC2, Auto Scaling, Lambda or Systems Manager actions).
func checkResourcePolicies(errorf func(format string, args ...any), c cfn) {
	for _, typ := range []string{"AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::Logs::ResourcePolicy", "AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::AccessKey"} {
		if rs := c.resources(typ); len(rs) != 0 {
			errorf("template has %s: %v", typ, rs)
		}
	}
	for _, p := range c.resources("AWS::Lambda::Permission") {
		principal, _ := p.Properties["Principal"].(string)
		if !strings.HasSuffix(principal, ".amazonaws.com") || p.Properties["SourceArn"] == nil || p.Properties["Action"] != "lambda:InvokeFunction" {
			errorf("Lambda permission %s: %s; want lambda:InvokeFunction for an AWS service and a source ARN", p.ID, render(p.Properties))
		}
	}
	topics := map[string]bool{}
	for _, r := range c.resources("AWS::SNS::Topic") {
		topics["{"+r.ID+"}"] = true
	}
	for _, a := range c.resources("AWS::CloudWatch::Alarm") {
		for _, k := range []string{"AlarmActions", "OKActions", "InsufficientDataActions"} {
			for _, action := range list(a.Properties[k]) {
				if r := render(action); !topics[r] && !strings.Contains(r, ":sns:") {
					errorf("alarm %s %s: %s, want SNS topics only", a.ID, k, r)
				}
			}
		}
	}
}

// functionLogGroup returns the log group the function logs to.
func functionLogGroup(t *testing.T, c cfn) resource {
	t.Helper()
	fn := c.one(t, "AWS::Lambda::Function")
	lc, _ := fn.Properties["LoggingConfig"].(map[string]any)
	id := strings.TrimSuffix(strings.TrimPrefix(render(lc["LogGroup"]), "{"), "}")
	for _, r := range c.resources("AWS::Logs::LogGroup") {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("the function's log group %s is not in the template", id)
	return resource{}
}

// xrayOnly reports whether a statement grants only X-Ray's write actions,
// which take no resource but "*".
func xrayOnly(statement map[string]any) bool {
	actions := list(statement["Action"])
	for _, a := range actions {
		if a != "xray:PutTraceSegments" && a != "xray:PutTelemetryRecords" {
			return false
		}
	}
	return len(actions) > 0
}

// timeoutProps is testProps for an app whose barrier tells waiting
// participants of its timeout.
func timeoutProps(t *testing.T) *infra.WebSocketAppProps {
	props := testProps(t)
	props.Manifest.Barriers = []manifest.Barrier{{Name: "pair", Size: 2, TTLSeconds: 60, Timeout: true}}
	return props
}

// TestTimers: an app with barrier timeouts gets a schedule group, a role
// only EventBridge Scheduler of this account can assume, and the
// function's environment names both; an app without them gets none.
func TestTimers(t *testing.T) {
	if groups := defaultCfn(t).resources("AWS::Scheduler::ScheduleGroup"); len(groups) != 0 {
		t.Fatalf("an app without barrier timeouts has schedule groups: %v", groups)
	}
	c := template(t, timeoutProps(t))
	group := c.one(t, "AWS::Scheduler::ScheduleGroup")
	role := c.roleTrusting(t, "scheduler.amazonaws.com")
	trust := render(role.Properties["AssumeRolePolicyDocument"])
	if !strings.Contains(trust, "aws:SourceAccount") {
		t.Errorf("the timers role's trust policy has no aws:SourceAccount condition: %s", trust)
	}
	vars := c.one(t, "AWS::Lambda::Function").Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
	if got := render(vars[runtimeenv.SchedulerRoleARN]); got != "{"+role.ID+".Arn}" {
		t.Errorf("%s = %s, want the timers role's ARN", runtimeenv.SchedulerRoleARN, got)
	}
	if got := render(vars[runtimeenv.ScheduleGroup]); got != "{"+group.ID+"}" {
		t.Errorf("%s = %s, want the schedule group", runtimeenv.ScheduleGroup, got)
	}
}

// roleTrusting returns the one role that service may assume.
func (c cfn) roleTrusting(t *testing.T, service string) resource {
	t.Helper()
	var found []resource
	for _, r := range c.resources("AWS::IAM::Role") {
		if strings.Contains(render(r.Properties["AssumeRolePolicyDocument"]), service) {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d roles trust %s, want 1", len(found), service)
	}
	return found[0]
}

// storeCalls lists the DynamoDB calls of the runtime's store: the methods of
// the client interface dynamostore depends on. The role must allow exactly
// these, so a store that starts using another call fails this test until
// infra grants it.
func storeCalls() []string {
	t := reflect.TypeFor[dynamostore.API]()
	calls := make([]string, t.NumMethod())
	for i := range calls {
		calls[i] = t.Method(i).Name
	}
	return calls
}

func TestConnectAuthorizer(t *testing.T) {
	t.Run("lambda", func(t *testing.T) {
		c := synth(t, func(stack awscdk.Stack) {
			props := testProps(t)
			props.ConnectAuthorizer = &infra.ConnectAuthorizer{
				Function:       awslambda.Function_FromFunctionArn(stack, jsii.String("Authorizer"), jsii.String("arn:aws:lambda:us-east-1:123456789012:function:auth")),
				IdentitySource: []string{"route.request.querystring.token"},
			}
			infra.NewWebSocketApp(stack, jsii.String("App"), props)
		})
		auth := c.one(t, "AWS::ApiGatewayV2::Authorizer")
		if auth.Properties["AuthorizerType"] != "REQUEST" || canonical(t, auth.Properties["IdentitySource"]) != `["route.request.querystring.token"]` {
			t.Errorf("authorizer = %v", auth.Properties)
		}
		if uri := render(auth.Properties["AuthorizerUri"]); !strings.Contains(uri, "function:auth/invocations") {
			t.Errorf("authorizer URI %s does not invoke the authorizer function", uri)
		}
		checkConnectAuthorization(t, c, "CUSTOM", "{"+auth.ID+"}")
	})
	t.Run("the app's own", func(t *testing.T) {
		props := testProps(t)
		m := *props.Manifest
		m.Authorizer = &manifest.Authorizer{IdentitySources: []string{"route.request.querystring.token"}}
		props.Manifest = &m
		c := template(t, props)
		auth := c.one(t, "AWS::ApiGatewayV2::Authorizer")
		if auth.Properties["AuthorizerType"] != "REQUEST" || canonical(t, auth.Properties["IdentitySource"]) != `["route.request.querystring.token"]` {
			t.Errorf("authorizer = %v", auth.Properties)
		}
		fn := c.one(t, "AWS::Lambda::Function")
		if uri := render(auth.Properties["AuthorizerUri"]); !strings.Contains(uri, fn.ID) {
			t.Errorf("authorizer URI %s does not invoke the app's function %s", uri, fn.ID)
		}
		checkConnectAuthorization(t, c, "CUSTOM", "{"+auth.ID+"}")
	})
	t.Run("iam", func(t *testing.T) {
		props := testProps(t)
		props.ConnectAuthorizer = &infra.ConnectAuthorizer{IAM: true}
		c := template(t, props)
		if rs := c.resources("AWS::ApiGatewayV2::Authorizer"); len(rs) != 0 {
			t.Errorf("IAM authorization needs no authorizer resource, got %v", rs)
		}
		checkConnectAuthorization(t, c, "AWS_IAM", "")
	})
}

func checkConnectAuthorization(t *testing.T, c cfn, typ, authorizerID string) {
	t.Helper()
	for _, r := range c.resources("AWS::ApiGatewayV2::Route") {
		key := r.Properties["RouteKey"]
		gotType, gotID := r.Properties["AuthorizationType"], r.Properties["AuthorizerId"]
		if key != manifest.RouteConnect {
			if gotType != "NONE" || gotID != nil {
				t.Errorf("route %v: authorization %v %v, want NONE (only $connect is authorized)", key, gotType, gotID)
			}
			continue
		}
		if gotType != typ {
			t.Errorf("$connect AuthorizationType = %v, want %s", gotType, typ)
		}
		if authorizerID != "" && render(gotID) != authorizerID {
			t.Errorf("$connect AuthorizerId = %s, want %s", render(gotID), authorizerID)
		}
	}
}

func TestOutputs(t *testing.T) {
	c := defaultCfn(t)
	api := c.one(t, "AWS::ApiGatewayV2::Api")
	table := c.one(t, "AWS::DynamoDB::Table")
	outputs, _ := c["Outputs"].(map[string]any)
	want := map[string]string{
		"WebSocketURL": "wss://{" + api.ID + "}.execute-api.{AWS::Region}.{AWS::URLSuffix}/prod",
		"CallbackURL":  "https://{" + api.ID + "}.execute-api.{AWS::Region}.{AWS::URLSuffix}/prod",
		"TableName":    "{" + table.ID + "}",
	}
	for name, w := range want {
		o, ok := outputs[name].(map[string]any)
		if !ok {
			t.Errorf("no output %s in %v", name, outputs)
			continue
		}
		if got := render(o["Value"]); got != w {
			t.Errorf("output %s = %s, want %s", name, got, w)
		}
	}
}

func TestTwoAppsInOneStack(t *testing.T) {
	c := synth(t, func(stack awscdk.Stack) {
		infra.NewWebSocketApp(stack, jsii.String("One"), testProps(t))
		infra.NewWebSocketApp(stack, jsii.String("Two"), testProps(t))
	})
	outputs, _ := c["Outputs"].(map[string]any)
	for _, name := range []string{"WebSocketURL", "TwoWebSocketURL", "TableName", "TwoTableName"} {
		if _, ok := outputs[name]; !ok {
			t.Errorf("no output %s", name)
		}
	}
	if n := len(c.resources("AWS::ApiGatewayV2::Api")); n != 2 {
		t.Errorf("%d APIs, want 2", n)
	}
}

// TestReproducible synthesizes the same app twice, with fresh builds into
// different directories: the Lambda asset hash and the whole template must
// be identical, so an unchanged app deploys nothing.
func TestReproducible(t *testing.T) {
	a := defaultCfn(t)
	b := template(t, testProps(t))
	key := func(c cfn) string {
		return c.one(t, "AWS::Lambda::Function").Properties["Code"].(map[string]any)["S3Key"].(string)
	}
	if key(a) != key(b) {
		t.Errorf("asset S3Key differs between synths: %s and %s", key(a), key(b))
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Error("templates differ between two synths of the same app")
	}
}

func TestInvalidProps(t *testing.T) {
	requireNode(t)
	intrinsic := testManifest(t)
	intrinsic.Routes[1].Schema = json.RawMessage(`{"type":"object","properties":{"Ref":{"type":"string"}}}`)
	imprecise := testManifest(t)
	imprecise.Routes[1].Schema = json.RawMessage(`{"type":"integer","maximum":12345678901234567890}`)
	badVersion := testManifest(t)
	badVersion.Version = 99

	tests := []struct {
		name   string
		change func(p *infra.WebSocketAppProps)
		want   string
	}{
		{"no manifest", func(p *infra.WebSocketAppProps) { p.Manifest = nil }, "Manifest is required"},
		{"invalid manifest", func(p *infra.WebSocketAppProps) { p.Manifest = badVersion }, "version 99"},
		{"no main package", func(p *infra.WebSocketAppProps) { p.MainPackageDir = "" }, "MainPackageDir is required"},
		{"missing directory", func(p *infra.WebSocketAppProps) { p.MainPackageDir = filepath.Join("testdata", "nothere") }, "not a directory"},
		{"not a main package", func(p *infra.WebSocketAppProps) { p.MainPackageDir = filepath.Join("testdata", "notmain") }, "not a main package"},
		{"build error", func(p *infra.WebSocketAppProps) { p.MainPackageDir = filepath.Join("testdata", "broken") }, "go build"},
		{"reserved environment", func(p *infra.WebSocketAppProps) { p.Environment = map[string]string{runtimeenv.Table: "x"} }, "may not set MULLET_TABLE"},
		{"intrinsic in schema", func(p *infra.WebSocketAppProps) { p.Manifest = intrinsic }, "intrinsic function"},
		{"imprecise number", func(p *infra.WebSocketAppProps) { p.Manifest = imprecise }, "does not survive as a float64"},
		{"authorizer without kind", func(p *infra.WebSocketAppProps) { p.ConnectAuthorizer = &infra.ConnectAuthorizer{} }, "set Function or IAM"},
		{"unknown log level", func(p *infra.WebSocketAppProps) { p.Observability = &infra.Observability{ExecutionLogLevel: "DEBUG"} }, `ExecutionLogLevel "DEBUG"`},
		{"data trace without INFO", func(p *infra.WebSocketAppProps) {
			p.Observability = &infra.Observability{ExecutionLogLevel: "ERROR", DataTrace: true}
		}, "DataTrace needs"},
		{"throttle of an unknown route", func(p *infra.WebSocketAppProps) {
			p.Observability = &infra.Observability{RouteThrottle: map[string]infra.Throttle{"nope": {RatePerSecond: 1, Burst: 1}}}
		}, `route "nope"`},
		{"zero throttle", func(p *infra.WebSocketAppProps) { p.Observability = &infra.Observability{Throttle: &infra.Throttle{}} }, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props := testProps(t)
			tt.change(props)
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
			stack := awscdk.NewStack(app, jsii.String("Test"), nil)
			defer func() {
				r := recover()
				if r == nil {
					t.Fatalf("NewWebSocketApp did not panic; want a panic mentioning %q", tt.want)
				}
				if msg := panicMessage(r); !strings.Contains(msg, tt.want) {
					t.Fatalf("panic %q, want it to mention %q", msg, tt.want)
				}
			}()
			infra.NewWebSocketApp(stack, jsii.String("App"), props)
		})
	}
}

func panicMessage(r any) string {
	if err, ok := r.(error); ok {
		return err.Error()
	}
	if s, ok := r.(string); ok {
		return s
	}
	b, _ := json.Marshal(r)
	return string(b)
}
