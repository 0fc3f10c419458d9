package runtimeenv

import (
	"errors"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/dynamostore"
	"github.com/mulletgo/mullet/store/memstore"
)

// The environment variables of a mullet function.
const (
	// Table is the DynamoDB table. Setting it selects the DynamoDB store
	// (infra/ sets it in AWS).
	Table = "MULLET_TABLE"
	// DynamoDBEndpoint overrides the DynamoDB endpoint, e.g. a local
	// DynamoDB-API server such as dynalite; never set by infra/.
	DynamoDBEndpoint = "MULLET_DYNAMODB_ENDPOINT"
	// CallbackURL fixes the @connections endpoint (infra/ sets it); empty
	// derives it from each event.
	CallbackURL = "MULLET_CALLBACK_URL"
	// Stage is the API Gateway stage name (default "local" locally).
	Stage = "MULLET_STAGE"
	// SchedulerRoleARN is the role EventBridge Scheduler assumes to deliver
	// barrier timeouts (infra/ sets it for an app whose barriers call
	// OnTimeout).
	SchedulerRoleARN = "MULLET_SCHEDULER_ROLE_ARN"
	// ScheduleGroup is the EventBridge Scheduler schedule group of the
	// timers (infra/ sets it).
	ScheduleGroup = "MULLET_SCHEDULE_GROUP"
	// SchedulerEndpoint overrides the EventBridge Scheduler endpoint: the
	// emulator's stand-in, for Lambda instances run locally; never set by
	// infra/.
	SchedulerEndpoint = "MULLET_SCHEDULER_ENDPOINT"
	// LocalLambda marks a Lambda instance run locally behind an emulated
	// Lambda Runtime API. Such instances share no memory, so a Runtime for
	// one needs a Table.
	LocalLambda = "MULLET_LOCAL_LAMBDA"
	// DevStoreURL is the store mullet dev holds in its own process and
	// serves to the Lambda instances it runs (package local/devstore), so
	// that state outlives every instance and every rebuild. Only the local
	// build of an app (without -tags lambda.norpc) can reach it; never set
	// by infra/.
	DevStoreURL = "MULLET_DEV_STORE_URL"

	// Addr is the local listen address (default 127.0.0.1:8080).
	Addr = "MULLET_ADDR"
	// Store selects the local store: "memory" (default) or "dynamodb".
	Store = "MULLET_STORE"
	// Log chooses the local per-invocation log on stdout: "text", "color",
	// "json" or "off" (see package local/invocationlog).
	Log = "MULLET_LOG"
	// WebDir is a directory of static files served locally outside the
	// stage path, such as the chat example's page (mullet dev sets it to
	// the app's web/ directory).
	WebDir = "MULLET_WEB_DIR"
	// AnySignature, when set to any value, makes local serving's
	// @connections accept any request with a SigV4-shaped Authorization
	// header, verifying no signature: for tools that cannot sign with the
	// emulator's credentials (mullet dev -any-signature).
	AnySignature = "MULLET_ANY_SIGNATURE"
	// APIKeys is the path of a JSON file of the API keys local serving's
	// $connect accepts, for an app that requires API keys (mullet dev
	// -api-keys; the format is local.ReadAPIKeys').
	APIKeys = "MULLET_API_KEYS"
	// PrintManifest, when set to any value, makes mullet.Main write the
	// app's manifest (JSON) to stdout and exit, serving nothing: how tools
	// learn the routes of a built binary.
	PrintManifest = "MULLET_PRINT_MANIFEST"

	// LambdaRuntimeAPI is set by the Lambda runtime (and by its local
	// emulation): its presence means the process is a Lambda function.
	LambdaRuntimeAPI = "AWS_LAMBDA_RUNTIME_API"
)

// Config is what the environment says about a function's Runtime.
type Config struct {
	Table             string
	DynamoDBEndpoint  string
	CallbackURL       string
	SchedulerRoleARN  string
	ScheduleGroup     string
	SchedulerEndpoint string
	// SchedulerTargetARN is the function the timers invoke. Empty: the
	// function ARN of the invocation that schedules (in Lambda). Not read
	// from the environment.
	SchedulerTargetARN string
	LocalLambda        bool
	// AccessKeyID and SecretAccessKey are the credentials of a Lambda
	// instance run locally, written by Environ as AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY (which LambdaAWSConfig reads): the access key
	// the emulator's @connections accepts. Not read by FromEnv.
	AccessKeyID, SecretAccessKey string
	// DevStoreURL is mullet dev's store (DevStoreURL). NewRuntime does not
	// open it: the local build's mullet.Main does, and passes it as Store.
	DevStoreURL string
	// Store, if set, is the store, whatever the other fields say: the
	// client of DevStoreURL that mullet.Main opened. Not read from the
	// environment.
	Store store.Store
}

// FromEnv reads a Config through getenv (os.Getenv, or a test's map).
func FromEnv(getenv func(string) string) Config {
	return Config{
		Table:             getenv(Table),
		DynamoDBEndpoint:  getenv(DynamoDBEndpoint),
		CallbackURL:       getenv(CallbackURL),
		SchedulerRoleARN:  getenv(SchedulerRoleARN),
		ScheduleGroup:     getenv(ScheduleGroup),
		SchedulerEndpoint: getenv(SchedulerEndpoint),
		LocalLambda:       getenv(LocalLambda) != "",
		DevStoreURL:       getenv(DevStoreURL),
	}
}

// Environ returns c as NAME=value pairs for a child process's environment,
// leaving out empty values: what FromEnv reads back.
func (c Config) Environ() []string {
	var env []string
	add := func(name, value string) {
		if value != "" {
			env = append(env, name+"="+value)
		}
	}
	if c.LocalLambda {
		add(LocalLambda, "1")
	}
	add(Table, c.Table)
	add(DynamoDBEndpoint, c.DynamoDBEndpoint)
	add(CallbackURL, c.CallbackURL)
	add(SchedulerRoleARN, c.SchedulerRoleARN)
	add(ScheduleGroup, c.ScheduleGroup)
	add(SchedulerEndpoint, c.SchedulerEndpoint)
	add("AWS_ACCESS_KEY_ID", c.AccessKeyID)
	add("AWS_SECRET_ACCESS_KEY", c.SecretAccessKey)
	add(DevStoreURL, c.DevStoreURL)
	return env
}

// ErrNoSharedStore is returned by NewRuntime for a local Lambda instance
// without a Table: instances share no memory, so in-memory state would be
// lost between them.
var ErrNoSharedStore = errors.New("MULLET_TABLE is not set: Lambda instances run locally share no memory, so they need a shared store; pass -store dynamodb to mullet dev -runtime lambda (it starts a local DynamoDB-API server), or run mullet dev without -runtime lambda to share mullet dev's in-memory store")

// ErrDevStoreUnreachable is returned by NewRuntime for a DevStoreURL
// without a Store: the AWS Lambda build (-tags lambda.norpc) leaves the
// client of mullet dev's store out.
var ErrDevStoreUnreachable = errors.New("MULLET_DEV_STORE_URL is set, but this is the AWS Lambda build of the app (-tags lambda.norpc), which cannot reach mullet dev's store; run the local build (go build without that tag), as mullet dev does, or use -store dynamodb")

// NewRuntime builds the Runtime that c describes, with clients made once
// from cfg (never per invocation):
//   - c.Store if set; else the DynamoDB store on c.Table (at
//     c.DynamoDBEndpoint if set); else an in-memory store, except for a
//     local Lambda instance (ErrNoSharedStore) or with a DevStoreURL
//     (ErrDevStoreUnreachable);
//   - the @connections client at c.CallbackURL, or derived from each event;
//   - an EventBridge Scheduler for barrier timeouts when c.SchedulerRoleARN
//     is set (at c.SchedulerEndpoint if set).
func NewRuntime(cfg aws.Config, c Config, logger *slog.Logger) (*framework.Runtime, error) {
	var st store.Store
	switch {
	case c.Store != nil:
		st = c.Store
	case c.Table != "":
		var optFns []func(*dynamodb.Options)
		if c.DynamoDBEndpoint != "" {
			optFns = append(optFns, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(c.DynamoDBEndpoint) })
		}
		st = dynamostore.New(dynamodb.NewFromConfig(cfg, optFns...), c.Table, nil)
	case c.DevStoreURL != "":
		return nil, ErrDevStoreUnreachable
	case c.LocalLambda:
		return nil, ErrNoSharedStore
	default:
		st = memstore.New(nil)
	}
	rt := &framework.Runtime{
		Store:    st,
		Callback: framework.NewCallback(cfg, &framework.CallbackOptions{Endpoint: c.CallbackURL}),
		Logger:   logger,
		// In Lambda API Gateway, locally the emulator, checks frames
		// against the manifest's request models.
		GatewayChecksModels: true,
		// A Lambda instance run locally (mullet dev -runtime lambda) is
		// development: check what the app sends against its declared types.
		CheckOutbound: c.LocalLambda,
	}
	if c.SchedulerRoleARN != "" {
		var optFns []func(*scheduler.Options)
		if c.SchedulerEndpoint != "" {
			optFns = append(optFns, func(o *scheduler.Options) { o.BaseEndpoint = aws.String(c.SchedulerEndpoint) })
		}
		s, err := framework.NewEventBridgeScheduler(scheduler.NewFromConfig(cfg, optFns...), &framework.EventBridgeSchedulerOptions{
			RoleARN: c.SchedulerRoleARN, Group: c.ScheduleGroup, TargetARN: c.SchedulerTargetARN,
		})
		if err != nil {
			return nil, err
		}
		rt.Scheduler = s
	}
	return rt, nil
}

// LambdaAWSConfig is the AWS configuration of a Lambda function, read
// through getenv from the environment the Lambda runtime sets: the region
// and the execution role's credentials (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), which is what the SDK's default
// chain resolves to inside Lambda. It does without the config package's
// profile, SSO and STS machinery, which would add about a megabyte and
// milliseconds of package initialization to every cold start
// (docs/benchmarks.md, start-up).
func LambdaAWSConfig(getenv func(string) string) aws.Config {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	return aws.Config{
		Region: region,
		Credentials: credentials.NewStaticCredentialsProvider(
			getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN")),
	}
}
