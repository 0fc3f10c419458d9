package local

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/local/invocationlog"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/dynamostore"
)

// Run serves app locally until ctx is done, configured through getenv
// (os.Getenv in mullet.Main) by the variables of package
// framework/runtimeenv: the address (MULLET_ADDR), stage (MULLET_STAGE),
// store (MULLET_STORE, MULLET_TABLE, MULLET_DYNAMODB_ENDPOINT), invocation
// log on stdout (MULLET_LOG, NO_COLOR), a directory of static pages
// (MULLET_WEB_DIR), whether @connections accepts any signature
// (MULLET_ANY_SIGNATURE) and the API keys $connect accepts
// (MULLET_API_KEYS, a keys file: see ReadAPIKeys), and tracing, on when
// the OpenTelemetry variables ask for it (see runtimeenv.TracesEndpoint). It is what mullet.Main does outside Lambda, and so what
// mullet dev runs in the app's process.
func Run(ctx context.Context, app framework.Application, getenv func(string) string) error {
	opts := &Options{Addr: getenv(runtimeenv.Addr), Stage: getenv(runtimeenv.Stage), AnySignature: getenv(runtimeenv.AnySignature) != ""}
	format, err := invocationlog.FormatFor(getenv(runtimeenv.Log), getenv("NO_COLOR") != "", os.Stdout)
	if err != nil {
		return err
	}
	if format != invocationlog.Off {
		opts.InvocationLog, opts.InvocationLogFormat = os.Stdout, format
	}
	if dir := getenv(runtimeenv.WebDir); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("%s=%q: not a directory of pages to serve", runtimeenv.WebDir, dir)
		}
		opts.Page = http.FileServerFS(os.DirFS(dir))
	}
	if path := getenv(runtimeenv.APIKeys); path != "" {
		keys, err := ReadAPIKeys(path)
		if err != nil {
			return err
		}
		opts.APIKeys = keys
	}
	switch kind := getenv(runtimeenv.Store); kind {
	case "", "memory":
	case "dynamodb":
		st, err := DynamoDBStore(ctx, getenv(runtimeenv.Table), getenv(runtimeenv.DynamoDBEndpoint))
		if err != nil {
			return err
		}
		opts.Store = st
	default:
		return fmt.Errorf("%s=%q: use memory or dynamodb", runtimeenv.Store, kind)
	}
	if tp := runtimeenv.NewTracerProvider(getenv, app.Name()); tp != nil {
		// The app's spans go where the OTEL_* variables say, as in Lambda;
		// what is still buffered is exported when serving ends.
		opts.TracerProvider = tp
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = tp.Shutdown(sctx)
		}()
	}
	return Serve(ctx, app, opts)
}

// DynamoDBStore connects to the DynamoDB table through the default AWS
// configuration chain (real DynamoDB), or to a DynamoDB-API server at
// endpoint with placeholder credentials and without consulting that chain
// (so nothing probes the EC2 instance metadata service), and checks that the
// table exists, so that a missing table is a clear startup error.
func DynamoDBStore(ctx context.Context, table, endpoint string) (store.Store, error) {
	if table == "" {
		return nil, fmt.Errorf("the DynamoDB store needs a table name: pass -table NAME (or set %s)", runtimeenv.Table)
	}
	var cfg aws.Config
	if endpoint != "" {
		cfg = LocalAWSConfig()
	} else {
		var err error
		cfg, err = config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		if cfg.Region == "" {
			return nil, errors.New("no AWS region configured for DynamoDB: set AWS_REGION, or pass -dynamodb-endpoint for a local DynamoDB-API server")
		}
	}
	rt, err := runtimeenv.NewRuntime(cfg, runtimeenv.Config{Table: table, DynamoDBEndpoint: endpoint}, nil)
	if err != nil {
		return nil, err
	}
	st := rt.Store.(*dynamostore.Store)
	checkCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := st.CheckTable(checkCtx); err != nil {
		return nil, err
	}
	return st, nil
}

// LocalAWSConfig is the AWS configuration of clients of local servers (the
// emulator, a DynamoDB-API server such as dynalite): a fixed region and
// placeholder credentials, which only local servers accept. It reads no
// shared configuration and no credential chain, so nothing probes the EC2
// instance metadata service.
func LocalAWSConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
}
