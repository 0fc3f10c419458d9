package mullet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/store"
)

// serveLocally serves an app outside Lambda until ctx is done. It is set
// by local_serving.go, which the AWS Lambda build (-tags lambda.norpc)
// leaves out, as aws-lambda-go leaves out its RPC mode: that build never
// links the emulator.
var serveLocally func(ctx context.Context, app framework.Application, getenv func(string) string) error

// openDevStore opens the client of the store mullet dev serves to the
// Lambda instances it runs (runtimeenv.DevStoreURL). Set by
// local_serving.go too: the AWS Lambda build never links that client.
var openDevStore func(url string) store.Store

// Main runs app and exits: as a Lambda function when the Lambda runtime
// started the process (AWS_LAMBDA_RUNTIME_API is set), otherwise locally
// behind the API Gateway emulator until interrupted, configured by the
// environment (package framework/runtimeenv; default ws://127.0.0.1:8080/local).
// With MULLET_PRINT_MANIFEST set it writes the app's manifest to stdout and
// exits.
func Main(app framework.Application) {
	if os.Getenv(runtimeenv.PrintManifest) != "" {
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
	if os.Getenv(runtimeenv.LambdaRuntimeAPI) != "" {
		inv, tp := lambdaInvoker(app)
		if a, ok := app.(framework.AuthorizingApplication); ok && app.Manifest().Authorizer != nil {
			// infra/ deploys such an app's function as its $connect
			// authorizer too; LambdaEntry tells the two events apart.
			lambda.StartHandlerFunc(traceLambda(framework.LambdaEntry(inv, a.LambdaAuthorizer()), tp))
			return
		}
		lambda.StartHandlerFunc(traceLambda(framework.LambdaHandler(inv), tp))
		return
	}
	if serveLocally == nil {
		fmt.Fprintf(os.Stderr, "mullet: %s was built with -tags lambda.norpc, the AWS Lambda build: it serves only inside Lambda (%s set). Build it without that tag, or run mullet dev, to serve locally.\n", app.Name(), runtimeenv.LambdaRuntimeAPI)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := serveLocally(ctx, app, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mullet:", err)
		os.Exit(1)
	}
}

// lambdaInvoker binds app for AWS Lambda. Clients are built here, once, at
// cold start. A failure here is reported to the Runtime API as an init
// error and ends the process. The tracer provider is nil unless the OTEL_*
// environment variables turn tracing on (runtimeenv.TracesEndpoint).
func lambdaInvoker(app framework.Application) (framework.Invoker, *sdktrace.TracerProvider) {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg := runtimeenv.LambdaAWSConfig(os.Getenv)
	if cfg.Region == "" {
		lambdaInitFailed(logger, "AWS_REGION is not set: the Lambda runtime sets it; when running the binary by hand, set AWS_REGION")
	}
	c := runtimeenv.FromEnv(os.Getenv)
	if c.DevStoreURL != "" && openDevStore != nil {
		c.Store = openDevStore(c.DevStoreURL)
	}
	rt, err := runtimeenv.NewRuntime(cfg, c, logger)
	if err != nil {
		lambdaInitFailed(logger, err.Error())
	}
	if c.Table == "" && c.Store == nil {
		logger.Warn(runtimeenv.Table + " is not set: per-connection state is kept in this instance's memory only")
	}
	tp := runtimeenv.NewTracerProvider(os.Getenv, app.Name())
	if tp != nil {
		rt.TracerProvider = tp
	}
	if os.Getenv(runtimeenv.Metrics) == runtimeenv.MetricsEMF {
		// CloudWatch Logs extracts EMF lines from the function's output.
		rt.Metrics = os.Stdout
	}
	// infra/ sets the scheduler role only for an app whose barriers call
	// OnTimeout; Bind warns about such an app running without it.
	return app.Bind(rt), tp
}

// traceLambda continues, in every invocation, the trace of Lambda's X-Ray
// header (the invocation's x-amzn-trace-id, which aws-lambda-go puts in
// the context and in _X_AMZN_TRACE_ID) when it is sampled, and flushes
// the spans before the invocation answers: Lambda freezes the process
// between invocations, so spans still buffered could be lost. With tp nil
// it returns h.
func traceLambda[E, R any](h func(context.Context, E) (R, error), tp *sdktrace.TracerProvider) func(context.Context, E) (R, error) {
	if tp == nil {
		return h
	}
	return func(ctx context.Context, event E) (R, error) {
		ctx = xrayParent(ctx, os.Getenv("_X_AMZN_TRACE_ID"))
		r, err := h(ctx, event)
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if ferr := tp.ForceFlush(flushCtx); ferr != nil {
			fmt.Fprintln(os.Stderr, "mullet: could not export the invocation's spans:", ferr)
		}
		cancel()
		return r, err
	}
}

// xrayParent returns ctx with the X-Ray trace header's span as the remote
// parent, if it is sampled: X-Ray passes Sampled=0 when active tracing is
// off, and a parent-based sampler would then drop every span.
func xrayParent(ctx context.Context, fromEnv string) context.Context {
	header, _ := ctx.Value("x-amzn-trace-id").(string)
	if header == "" {
		header = fromEnv
	}
	if header == "" {
		return ctx
	}
	sc := trace.SpanContextFromContext(xray.Propagator{}.Extract(context.Background(), propagation.MapCarrier{"X-Amzn-Trace-Id": header}))
	if !sc.IsValid() || !sc.IsSampled() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// lambdaInitFailed logs msg, reports it to the Lambda Runtime API as the
// init error (so that Lambda, or the local emulation of it, shows it as the
// reason the function failed) and exits.
func lambdaInitFailed(logger *slog.Logger, msg string) {
	logger.Error(msg)
	body, _ := json.Marshal(map[string]string{"errorMessage": msg, "errorType": "Mullet.InitError"})
	req, err := http.NewRequest(http.MethodPost, "http://"+os.Getenv(runtimeenv.LambdaRuntimeAPI)+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
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
