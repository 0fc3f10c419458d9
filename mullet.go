package mullet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/framework/store"
	"github.com/mulletgo/mullet/framework/store/dynamostore"
	"github.com/mulletgo/mullet/framework/store/memstore"
)

// Environment variables read by Main.
const (
	// EnvAddr is the local listen address (default 127.0.0.1:8080).
	EnvAddr = "MULLET_ADDR"
	// EnvStage is the local stage name (default "local").
	EnvStage = "MULLET_STAGE"
	// EnvStore selects the local store: "memory" (default) or "dynamodb".
	EnvStore = "MULLET_STORE"
	// EnvTable is the DynamoDB table. In Lambda, setting it selects the
	// DynamoDB store (infra/ sets it).
	EnvTable = "MULLET_TABLE"
	// EnvDynamoDBEndpoint overrides the DynamoDB endpoint, e.g. a local
	// DynamoDB-API server. Empty: the default AWS configuration chain.
	EnvDynamoDBEndpoint = "MULLET_DYNAMODB_ENDPOINT"
	// EnvCallbackURL fixes the @connections endpoint in Lambda (infra/ sets
	// it); empty derives it from each event.
	EnvCallbackURL = "MULLET_CALLBACK_URL"
	// EnvSchedulerRoleARN is the role EventBridge Scheduler assumes to
	// deliver barrier timeouts (infra/ sets it for an app whose barriers
	// call OnTimeout).
	EnvSchedulerRoleARN = "MULLET_SCHEDULER_ROLE_ARN"
	// EnvScheduleGroup is the EventBridge Scheduler schedule group of the
	// timers (infra/ sets it).
	EnvScheduleGroup = "MULLET_SCHEDULE_GROUP"
	// EnvSchedulerEndpoint overrides the EventBridge Scheduler endpoint:
	// the emulator's stand-in, when run locally behind an emulated Runtime
	// API; never set by infra/.
	EnvSchedulerEndpoint = "MULLET_SCHEDULER_ENDPOINT"
	// EnvLog chooses the local per-invocation log on stdout: "text"
	// (aligned columns), "color" (the same, colored), "json" (one JSON
	// object a line) or "off". Default: color on a terminal (text if
	// NO_COLOR is set), JSON lines otherwise.
	EnvLog = "MULLET_LOG"
	// EnvPrintManifest, when set to any value, makes Main write the app's
	// manifest (JSON) to stdout and exit, serving nothing: how `mullet dev
	// -runtime lambda` learns the routes of a built binary.
	EnvPrintManifest = "MULLET_PRINT_MANIFEST"
	// EnvLocalLambda marks a Lambda instance run locally behind an
	// emulated Lambda Runtime API (`mullet dev -runtime lambda`,
	// mullettest's Lambda mode). Such instances share no memory, so Main
	// refuses to start one without MULLET_TABLE.
	EnvLocalLambda = "MULLET_LOCAL_LAMBDA"
	// envLambda is set by the Lambda runtime.
	envLambda = "AWS_LAMBDA_RUNTIME_API"
)

// Main runs app and exits: as a Lambda function when the Lambda runtime
// started the process, otherwise locally on MULLET_ADDR (default
// 127.0.0.1:8080) until interrupted. page, if non-nil, is served locally
// outside the stage path.
func Main(app framework.Application, page http.Handler) {
	if os.Getenv(EnvPrintManifest) != "" {
		data, err := app.Manifest().Marshal()
		if err == nil {
			_, err = os.Stdout.Write(append(data, '\n'))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "mullet: write the manifest:", err)
			os.Exit(1)
		}
		return
	}
	if os.Getenv(envLambda) != "" {
		inv := lambdaInvoker(app)
		if a, ok := app.(framework.AuthorizingApplication); ok && a.Authorizer() != nil {
			// infra/ deploys such an app's function as its $connect
			// authorizer too; LambdaEntry tells the two events apart.
			lambda.StartHandlerFunc(framework.LambdaEntry(inv, a.Authorizer()))
			return
		}
		lambda.StartHandlerFunc(framework.LambdaHandler(inv))
		return
	}
	mainLocal(app, page)
}

// lambdaInvoker binds app for AWS Lambda. Clients are built here, once, at
// cold start. A failure here is reported to the Runtime API as an init
// error and ends the process.
func lambdaInvoker(app framework.Application) framework.Invoker {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg := lambdaConfig()
	if cfg.Region == "" {
		lambdaInitFailed(logger, "AWS_REGION is not set: the Lambda runtime sets it; when running the binary by hand, set AWS_REGION")
	}
	var st store.Store
	if table := os.Getenv(EnvTable); table != "" {
		var optFns []func(*dynamodb.Options)
		if endpoint := os.Getenv(EnvDynamoDBEndpoint); endpoint != "" {
			// A DynamoDB-API server, when run locally behind an emulated
			// Runtime API; never set by infra/.
			optFns = append(optFns, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
		}
		st = dynamostore.New(dynamodb.NewFromConfig(cfg, optFns...), table, nil)
	} else if os.Getenv(EnvLocalLambda) != "" {
		lambdaInitFailed(logger, "MULLET_TABLE is not set: Lambda instances run locally share no memory, so they need a shared store; pass -store dynamodb -table NAME (and -dynamodb-endpoint URL for a local DynamoDB-API server such as dynalite) to mullet dev -runtime lambda")
	} else {
		logger.Warn("MULLET_TABLE is not set: per-connection state is kept in this instance's memory only")
		st = memstore.New(nil)
	}
	rt := &framework.Runtime{
		Store:    st,
		Callback: framework.NewCallback(cfg, &framework.CallbackOptions{Endpoint: os.Getenv(EnvCallbackURL)}),
		Logger:   logger,
	}
	// infra/ sets the role only for an app whose barriers call OnTimeout;
	// Bind warns about such an app running without it.
	if role := os.Getenv(EnvSchedulerRoleARN); role != "" {
		var optFns []func(*scheduler.Options)
		if endpoint := os.Getenv(EnvSchedulerEndpoint); endpoint != "" {
			optFns = append(optFns, func(o *scheduler.Options) { o.BaseEndpoint = aws.String(endpoint) })
		}
		rt.Scheduler, _ = framework.NewEventBridgeScheduler(scheduler.NewFromConfig(cfg, optFns...),
			framework.EventBridgeSchedulerOptions{RoleARN: role, Group: os.Getenv(EnvScheduleGroup)})
	}
	return app.Bind(rt)
}

// lambdaInitFailed logs msg, reports it to the Lambda Runtime API as the
// init error (so that Lambda, or the local emulation of it, shows it as the
// reason the function failed) and exits.
func lambdaInitFailed(logger *slog.Logger, msg string) {
	logger.Error(msg)
	body, _ := json.Marshal(map[string]string{"errorMessage": msg, "errorType": "Mullet.InitError"})
	req, err := http.NewRequest(http.MethodPost, "http://"+os.Getenv(envLambda)+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Mullet.InitError")
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	os.Exit(1)
}

// lambdaConfig is the AWS configuration of a Lambda function, read from the
// environment the Lambda runtime sets: the region and the execution role's
// credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
// which is what the SDK's default chain resolves to inside Lambda. It does
// without the config package's profile, SSO and STS machinery, which would
// add about a megabyte and milliseconds of package initialization to every
// cold start.
func lambdaConfig() aws.Config {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	return aws.Config{
		Region: region,
		Credentials: credentials.NewStaticCredentialsProvider(
			os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")),
	}
}
