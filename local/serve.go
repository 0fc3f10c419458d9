package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.opentelemetry.io/otel/trace"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/local/invocationlog"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/store"
)

// Options configures local serving. nil means defaults.
type Options struct {
	// Addr is the listen address. Default 127.0.0.1:8080. Binding a
	// non-loopback address is allowed but logged as a warning.
	Addr string
	// Stage is the API Gateway stage name. Default "local".
	Stage string
	// Page, if set, serves every path outside the stage: a local
	// convenience such as a chat page. In AWS such pages are hosted
	// separately.
	Page http.Handler
	// Out receives the banner with URLs and the route table. nil: stdout.
	Out io.Writer
	// Logger receives the emulator's and the app's logs. nil: text to
	// stderr.
	Logger *slog.Logger
	// IdleTimeout and MaxDuration override API Gateway's 10 minutes and
	// 2 hours.
	IdleTimeout, MaxDuration time.Duration
	// IntegrationTimeout overrides API Gateway's 29 seconds for an
	// invocation (e.g. for a test whose store is far slower than
	// DynamoDB).
	IntegrationTimeout time.Duration
	// Ready, if set, is called with the server's URLs once it accepts
	// connections.
	Ready func(websocketURL, callbackURL string)
	// Store keeps the app's connections, state, groups and barriers. nil:
	// a new in-memory store.
	Store store.Store
	// InvocationLog, if set, receives one line per invocation of the app
	// (package local/invocationlog). nil logs nothing and costs nothing.
	InvocationLog io.Writer
	// InvocationLogFormat is the format of InvocationLog's lines:
	// invocationlog.Text (the default), Color or JSON.
	InvocationLogFormat invocationlog.Format
	// Rejected, if set, is told of every frame the emulator refuses with
	// API Gateway's error frame without invoking the app, and why (see
	// emulator.Rejection). Refusals also get a line in InvocationLog; with
	// neither, they are logged at Info level to Logger.
	Rejected func(*emulator.Rejection)
	// AnySignature makes @connections accept any SigV4-shaped request
	// without verifying its signature (emulator.Options.AnySignature), for
	// tools that cannot sign with the emulator's credentials
	// (emulator.DefaultCredentials, which the app is given).
	AnySignature bool
	// APIKeys, ConnectPrincipals and ConnectThrottle are the emulator's
	// $connect auth configuration (see emulator.Options): the API keys an
	// app that requires them accepts (ReadAPIKeys reads a keys file), the
	// IAM principals whose signatures an app that requires IAM accepts
	// (default: the emulator's credentials, which the app is given too),
	// and the stage's token bucket of new connections.
	APIKeys           []emulator.APIKey
	ConnectPrincipals []emulator.Principal
	ConnectThrottle   *manifest.Throttle
	// Integration, if set, replaces the app bound in this process as what
	// the emulator invokes: it is called once, with the @connections base
	// URL (http://ADDR/STAGE) the app must push to, before the server
	// accepts connections, and returns the integration, such as a
	// *lambdaruntime.Pool running the app's Lambda binary. The app then
	// only supplies the manifest, and Store must be nil: the integration
	// keeps state its own way. Serving closes the integration when it
	// returns, after the emulator's shutdown (which invokes $disconnect).
	Integration func(callbackURL string) (Integration, error)
	// TracerProvider traces the app bound in this process
	// (framework.Runtime.TracerProvider). nil: no tracing. Lambda
	// instances of an Integration trace by their own OTEL_* environment.
	TracerProvider trace.TracerProvider
}

// Integration is what the emulator invokes in place of an app bound in
// this process, e.g. a *lambdaruntime.Pool. Invoke has the contract of
// emulator.InvokeFunc.
type Integration interface {
	Invoke(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)
	Close() error
}

// Serve serves app behind the API Gateway emulator until ctx is done.
func Serve(ctx context.Context, app framework.Application, opts *Options) error {
	return serve(ctx, app.Manifest(), app, opts)
}

// ServeManifest serves the API that m declares behind the API Gateway
// emulator until ctx is done, with opts.Integration, which is required, as
// the integration: the app runs elsewhere, e.g. as Lambda instances of
// package local/lambdaruntime. Page, if set, is served as by Serve.
func ServeManifest(ctx context.Context, m *manifest.Manifest, opts *Options) error {
	if opts == nil || opts.Integration == nil {
		return errors.New("local: ServeManifest needs Options.Integration: the function the emulator invokes")
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("local: manifest: %w", err)
	}
	return serve(ctx, m, nil, opts)
}

// The role and function ARNs of local timers: placeholders, as local
// credentials are.
const (
	localSchedulerRole = "arn:aws:iam::000000000000:role/mullet-local-scheduler"
	localFunctionARN   = "arn:aws:lambda:us-east-1:000000000000:function:"
)

// LambdaConfig is the runtime configuration of a Lambda instance of an app
// run locally behind an emulated Runtime API: the DynamoDB table and
// endpoint its instances share, the emulator's @connections URL and
// Scheduler stand-in, and the credentials the emulator accepts
// (emulator.DefaultCredentials, as local serving's emulator has them).
// Pass its Environ to lambdaruntime.Options.Env.
func LambdaConfig(table, dynamoDBEndpoint, callbackURL string) runtimeenv.Config {
	return runtimeenv.Config{
		AccessKeyID:       emulator.DefaultAccessKeyID,
		SecretAccessKey:   emulator.DefaultSecretAccessKey,
		LocalLambda:       true,
		Table:             table,
		DynamoDBEndpoint:  dynamoDBEndpoint,
		CallbackURL:       callbackURL,
		SchedulerEndpoint: callbackURL + emulator.SchedulerPath,
		SchedulerRoleARN:  localSchedulerRole,
	}
}

// serve serves m with app bound in this process, or with o.Integration.
func serve(ctx context.Context, m *manifest.Manifest, app framework.Application, opts *Options) error {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Integration != nil && o.Store != nil {
		return errors.New("local: Options.Store and Integration exclude each other: the integration keeps state its own way")
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var invoke emulator.InvokeFunc // set below, before the server accepts connections
	var invlog *invocationlog.Log  // set below, before the server accepts connections
	var rejected func(*emulator.Rejection)
	if o.InvocationLog != nil || o.Rejected != nil {
		rejected = func(r *emulator.Rejection) {
			if invlog != nil {
				invlog.Refused(r.Time, r.Route, r.ConnectionID, r.RequestID, r.Status(), r.Reason())
			}
			if o.Rejected != nil {
				o.Rejected(r)
			}
		}
	}
	srv, err := emulator.Listen(o.Addr, &emulator.Options{
		Manifest: m,
		Invoke: func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return invoke(ctx, ev)
		},
		Stage:              o.Stage,
		AnySignature:       o.AnySignature,
		APIKeys:            o.APIKeys,
		ConnectPrincipals:  o.ConnectPrincipals,
		ConnectThrottle:    o.ConnectThrottle,
		IdleTimeout:        o.IdleTimeout,
		MaxDuration:        o.MaxDuration,
		IntegrationTimeout: o.IntegrationTimeout,
		Logger:             o.Logger,
		Rejected:           rejected,
		Timers:             m.Timers(),
		// The page, if any, serves paths outside the stage; without one
		// they get API Gateway's 403 Forbidden from the emulator.
		Fallback: o.Page,
	})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s: the address is already in use; stop the other server or choose another address (%s or mullet dev -addr)", cmpOr(o.Addr, emulator.DefaultAddr), runtimeenv.Addr)
		}
		return err
	}
	wsURL, cbURL := srv.WebSocketURL(), srv.CallbackURL()

	// One keep-alive pool big enough for a broadcast's concurrent posts, so
	// pushes reuse connections instead of opening one per message.
	transport := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		// Bounded, so that descriptors cannot grow with load: broadcasts
		// run 32 posts each, and 256 connections serve many at once.
		MaxConnsPerHost: 256,
		IdleConnTimeout: 90 * time.Second,
	}
	closeIntegration := func() {}
	if o.Integration != nil {
		integ, err := o.Integration(cbURL)
		if err != nil {
			srv.Close()
			return err
		}
		invoke = integ.Invoke
		var once sync.Once
		closeIntegration = func() { once.Do(func() { integ.Close() }) }
		defer closeIntegration()
	} else {
		// The app runs in this process: its pushes take a Unix socket.
		transport.DialContext = srv.InProcessDialer()
		// The credentials the emulator's @connections verifies signatures
		// against.
		creds := srv.Emulator().Credentials()
		cfg := aws.Config{
			Region:      "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
			HTTPClient:  &http.Client{Transport: transport},
		}
		// The real SDK clients, pointed at the emulator and its Scheduler
		// stand-in: the same code path as in AWS.
		rc := runtimeenv.Config{CallbackURL: cbURL}
		if m.Timers() {
			rc.SchedulerEndpoint = cbURL + emulator.SchedulerPath
			rc.SchedulerRoleARN = localSchedulerRole
			rc.SchedulerTargetARN = localFunctionARN + m.Name
		}
		rt, err := runtimeenv.NewRuntime(cfg, rc, o.Logger)
		if err != nil {
			srv.Close()
			return err
		}
		if o.Store != nil {
			rt.Store = o.Store
		}
		// Local serving is development: check what the app sends against
		// the types it declared.
		rt.CheckOutbound = true
		rt.TracerProvider = o.TracerProvider
		invoke = app.Bind(rt).Invoke
	}
	if o.InvocationLog != nil {
		l, err := invocationlog.New(o.InvocationLog, o.InvocationLogFormat, m)
		if err != nil {
			srv.Close()
			return err
		}
		invoke = l.Wrap(invoke)
		invlog = l
	}
	printBanner(o.Out, m, wsURL, cbURL)
	errc := make(chan error, 1)
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	go func() { errc <- srv.Serve(serveCtx) }()
	if o.Ready != nil {
		o.Ready(wsURL, cbURL)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The emulator's shutdown invokes $disconnect for every connection
	// while @connections is still served; then the listeners close. The
	// callback client's idle keep-alive connections and an integration's
	// processes go last.
	err = srv.Shutdown(shutdownCtx)
	stopServing()
	<-errc
	transport.CloseIdleConnections()
	closeIntegration()
	return err
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func printBanner(w io.Writer, m *manifest.Manifest, wsURL, cbURL string) {
	fmt.Fprintf(w, "mullet: %s serving locally\n", m.Name)
	fmt.Fprintf(w, "  websocket:    %s\n", wsURL)
	fmt.Fprintf(w, "  @connections: %s/@connections/{connectionId}\n", cbURL)
	fmt.Fprintf(w, "  routes (selected by %s):\n", m.RouteSelectionExpression)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	routes := slices.Clone(m.Routes)
	sort.Slice(routes, func(i, j int) bool { return routes[i].Key < routes[j].Key })
	for _, r := range routes {
		var notes []string
		if r.TwoWay {
			notes = append(notes, "two-way")
		}
		if r.Model != "" {
			notes = append(notes, "model "+r.Model)
		}
		fmt.Fprintf(tw, "    %s\t%s\n", r.Key, strings.Join(notes, ", "))
	}
	tw.Flush()
}
