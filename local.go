//go:build !lambda.norpc

package mullet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/framework/emulator"
	"github.com/mulletgo/mullet/framework/manifest"
	"github.com/mulletgo/mullet/framework/store"
	"github.com/mulletgo/mullet/framework/store/dynamostore"
	"github.com/mulletgo/mullet/framework/store/memstore"
)

// LocalOptions configures local serving. nil means defaults.
type LocalOptions struct {
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
	// Ready, if set, is called with the server's URLs once it accepts
	// connections.
	Ready func(websocketURL, callbackURL string)
	// Store keeps the app's connections, state, groups and barriers. nil:
	// a new in-memory store.
	Store store.Store
	// InvocationLog, if set, receives one line per invocation of the app:
	// time, route key, connection ID, status code and latency. nil logs
	// nothing and costs nothing.
	InvocationLog io.Writer
	// InvocationLogFormat is the format of InvocationLog's lines: "text"
	// (aligned columns; the default), "color" (the same with ANSI colors)
	// or "json" (one object a line: time, route, connectionId, requestId,
	// status, durationMs, and error if the invocation failed).
	InvocationLogFormat string
	// Integration, if set, replaces the app bound in this process as what
	// the emulator invokes: it is called once, with the @connections base
	// URL (http://ADDR/STAGE) the app must push to, before the server
	// accepts connections, and returns the integration, such as a
	// *lambdaruntime.Pool running the app's Lambda binary. The app then
	// only supplies the manifest, and Store must be nil: the integration
	// keeps state its own way. ServeLocal closes the integration when it
	// returns, after the emulator's shutdown (which invokes $disconnect).
	Integration func(callbackURL string) (Integration, error)
}

// Integration is what the emulator invokes in place of an app bound in
// this process, e.g. a *lambdaruntime.Pool. Invoke has the contract of
// emulator.InvokeFunc.
type Integration interface {
	Invoke(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)
	Close() error
}

// mainLocal is the local half of Main: serve app behind the emulator on
// MULLET_ADDR with the store MULLET_STORE names, until interrupted.
func mainLocal(app framework.Application, page http.Handler) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := &LocalOptions{Addr: os.Getenv(EnvAddr), Stage: os.Getenv(EnvStage), Page: page}
	switch format := localLogFormat(os.Getenv(EnvLog), os.Getenv("NO_COLOR") != "", isTerminal(os.Stdout)); format {
	case "off":
	case "text", "color", "json":
		opts.InvocationLog, opts.InvocationLogFormat = os.Stdout, format
	default:
		fmt.Fprintf(os.Stderr, "mullet: %s=%q: use text, color, json or off\n", EnvLog, os.Getenv(EnvLog))
		os.Exit(2)
	}
	switch kind := os.Getenv(EnvStore); kind {
	case "", "memory":
	case "dynamodb":
		st, err := DynamoDBStore(ctx, os.Getenv(EnvTable), os.Getenv(EnvDynamoDBEndpoint))
		if err != nil {
			fmt.Fprintln(os.Stderr, "mullet:", err)
			os.Exit(1)
		}
		opts.Store = st
	default:
		fmt.Fprintf(os.Stderr, "mullet: %s=%q: use memory or dynamodb\n", EnvStore, kind)
		os.Exit(2)
	}
	if err := ServeLocal(ctx, app, opts); err != nil {
		fmt.Fprintln(os.Stderr, "mullet:", err)
		os.Exit(1)
	}
}

// DynamoDBStore connects to the DynamoDB table through the default AWS
// configuration chain, or to a DynamoDB-API server at endpoint (with
// placeholder credentials if none are configured), and checks that the table
// exists, so that a missing table is a clear startup error.
func DynamoDBStore(ctx context.Context, table, endpoint string) (*dynamostore.Store, error) {
	if table == "" {
		return nil, errors.New("the DynamoDB store needs a table name: pass -table NAME (or set MULLET_TABLE)")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	var optFns []func(*dynamodb.Options)
	if endpoint != "" {
		if cfg.Region == "" {
			cfg.Region = "us-east-1"
		}
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			cfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
		}
		optFns = append(optFns, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	} else if cfg.Region == "" {
		return nil, errors.New("no AWS region configured for DynamoDB: set AWS_REGION, or pass -dynamodb-endpoint for a local DynamoDB-API server")
	}
	st := dynamostore.New(dynamodb.NewFromConfig(cfg, optFns...), table, nil)
	checkCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := st.CheckTable(checkCtx); err != nil {
		return nil, err
	}
	return st, nil
}

// ServeLocal serves app behind the API Gateway emulator until ctx is done.
func ServeLocal(ctx context.Context, app framework.Application, opts *LocalOptions) error {
	return serveLocal(ctx, app.Manifest(), app, opts)
}

// ServeManifest serves the API that m declares behind the API Gateway
// emulator until ctx is done, with opts.Integration, which is required, as
// the integration: the app runs elsewhere, e.g. as Lambda instances of
// package lambdaruntime. Page, if set, is served as by ServeLocal.
func ServeManifest(ctx context.Context, m *manifest.Manifest, opts *LocalOptions) error {
	if opts == nil || opts.Integration == nil {
		return errors.New("mullet: ServeManifest needs LocalOptions.Integration: the function the emulator invokes")
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("mullet: manifest: %w", err)
	}
	return serveLocal(ctx, m, nil, opts)
}

// serveLocal serves m with app bound in this process, or with
// opts.Integration.
func serveLocal(ctx context.Context, m *manifest.Manifest, app framework.Application, opts *LocalOptions) error {
	var o LocalOptions
	if opts != nil {
		o = *opts
	}
	if o.Integration != nil && o.Store != nil {
		return errors.New("mullet: LocalOptions.Store and Integration exclude each other: the integration keeps state its own way")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.Stage == "" {
		o.Stage = "local"
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if os.Getenv("GOGC") == "" {
		// Every push goes through the real SDK client and HTTP, which
		// allocate ~30 KB per call against a small live heap; collecting
		// less often cuts the emulator's CPU per push by about a fifth
		// (docs/benchmarks.md). GOGC in the environment still wins.
		debug.SetGCPercent(localGCPercent)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s: the address is already in use; stop the other server or choose another address (MULLET_ADDR or mullet dev -addr)", o.Addr)
		}
		return fmt.Errorf("cannot listen on %s: %w", o.Addr, err)
	}
	if host, _, _ := net.SplitHostPort(o.Addr); !isLoopback(host) {
		o.Logger.Warn("binding a non-loopback address: the emulator accepts any credentials and is reachable from other machines", "addr", o.Addr)
	}
	addr := ln.Addr().String()
	wsURL := "ws://" + addr + "/" + o.Stage
	cbURL := "http://" + addr + "/" + o.Stage

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
	var sock *localSocket
	if o.Integration == nil {
		// The app runs in this process: its pushes take a Unix socket.
		if sock = listenLocalSocket(); sock != nil {
			defer sock.close()
			transport.DialContext = sock.dialer(addr)
		}
	}
	httpClient := &http.Client{Transport: transport}
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  httpClient,
	}
	var invoke emulator.InvokeFunc
	closeIntegration := func() {}
	if o.Integration != nil {
		integ, err := o.Integration(cbURL)
		if err != nil {
			ln.Close()
			return err
		}
		invoke = integ.Invoke
		var once sync.Once
		closeIntegration = func() { once.Do(func() { integ.Close() }) }
		defer closeIntegration()
	} else {
		st := o.Store
		if st == nil {
			st = memstore.New(nil)
		}
		rt := &framework.Runtime{
			Store:    st,
			Callback: framework.NewCallback(cfg, &framework.CallbackOptions{Endpoint: cbURL}),
			Logger:   o.Logger,
		}
		if m.Timers() {
			// The real EventBridge Scheduler client, pointed at the
			// stand-in served below: the same code path as in AWS.
			rt.Scheduler, _ = framework.NewEventBridgeScheduler(
				scheduler.NewFromConfig(cfg, func(o *scheduler.Options) { o.BaseEndpoint = aws.String(cbURL + schedulerPath) }),
				framework.EventBridgeSchedulerOptions{RoleARN: localSchedulerRole, TargetARN: localFunctionARN + m.Name})
		}
		invoke = app.Bind(rt).Invoke
	}
	if o.InvocationLog != nil {
		switch o.InvocationLogFormat {
		case "", "text", "color", "json":
		default:
			ln.Close()
			return fmt.Errorf("InvocationLogFormat %q: use text, color or json", o.InvocationLogFormat)
		}
		invoke = newInvocationLog(o.InvocationLog, o.InvocationLogFormat, m).wrap(invoke)
	}
	emu, err := emulator.New(&emulator.Options{
		Manifest:    m,
		Invoke:      invoke,
		Stage:       o.Stage,
		IdleTimeout: o.IdleTimeout,
		MaxDuration: o.MaxDuration,
		Logger:      o.Logger,
		// The page, if any, serves paths outside the stage; without one
		// they get API Gateway's 403 Forbidden from the emulator.
		Fallback: o.Page,
	})
	if err != nil {
		ln.Close()
		return err
	}
	handler := http.Handler(emu)
	closeScheduler := func() {}
	if m.Timers() {
		sched := emulator.NewScheduler(invoke, o.Logger)
		closeScheduler = func() { sched.Close() }
		defer closeScheduler()
		prefix := "/" + o.Stage + schedulerPath
		stripped := http.StripPrefix(prefix, sched)
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, prefix+"/") {
				stripped.ServeHTTP(w, r)
				return
			}
			emu.ServeHTTP(w, r)
		})
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	printBanner(o.Out, m, wsURL, cbURL)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if sock != nil {
		// Shutdown closes this listener too; its error is the same as ln's.
		go srv.Serve(sock.ln)
	}
	if o.Ready != nil {
		o.Ready(wsURL, cbURL)
	}
	select {
	case err := <-errc:
		emu.Close()
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Timers not yet due are dropped with the process, as a stopped
	// emulator's connections are.
	closeScheduler()
	shutdownErr := emu.Shutdown(shutdownCtx)
	// The callback client's idle keep-alive connections would hold
	// srv.Shutdown for 5 seconds if one was dialed but never used; so would
	// those of an integration's processes, which closing it ends.
	transport.CloseIdleConnections()
	closeIntegration()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		srv.Close()
		return err
	}
	return shutdownErr
}

// schedulerPath is where, under the stage, the emulator serves its
// stand-in for EventBridge Scheduler's API, which delivers barrier timeouts.
const schedulerPath = "/@scheduler"

// The role and function ARNs of local timers: placeholders, as local
// credentials are.
const (
	localSchedulerRole = "arn:aws:iam::000000000000:role/mullet-local-scheduler"
	localFunctionARN   = "arn:aws:lambda:us-east-1:000000000000:function:"
)

// LocalLambdaEnv is the environment of a Lambda instance of an app run
// locally behind an emulated Runtime API (lambdaruntime.Options.Env): the
// DynamoDB table and endpoint its instances share, and the emulator's
// @connections URL and Scheduler stand-in.
func LocalLambdaEnv(table, dynamoDBEndpoint, callbackURL, stage string) []string {
	return []string{
		EnvLocalLambda + "=1",
		EnvTable + "=" + table,
		EnvDynamoDBEndpoint + "=" + dynamoDBEndpoint,
		EnvCallbackURL + "=" + callbackURL,
		EnvStage + "=" + stage,
		EnvSchedulerEndpoint + "=" + callbackURL + schedulerPath,
		EnvSchedulerRoleARN + "=" + localSchedulerRole,
	}
}

// localGCPercent is the GOGC of a local server unless GOGC is set.
const localGCPercent = 400

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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

// localLogFormat picks the per-invocation log format from MULLET_LOG, or
// from the terminal when it is empty or "auto".
func localLogFormat(env string, noColor, terminal bool) string {
	switch {
	case env != "" && env != "auto":
		return env
	case !terminal:
		return "json"
	case noColor:
		return "text"
	}
	return "color"
}

// isTerminal reports whether f is a character device: a terminal, or
// /dev/null, where the format does not matter.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// invocationLog writes one line per invocation. Lines are built in one
// reused buffer under a mutex, so logging allocates nothing per invocation
// and lines never interleave.
type invocationLog struct {
	w          io.Writer
	format     string
	routeWidth int

	mu  sync.Mutex
	buf []byte
}

func newInvocationLog(w io.Writer, format string, m *manifest.Manifest) *invocationLog {
	l := &invocationLog{w: w, format: format, routeWidth: len("$disconnect"), buf: make([]byte, 0, 256)}
	for _, r := range m.Routes {
		l.routeWidth = max(l.routeWidth, len(r.Key))
	}
	return l
}

func (l *invocationLog) wrap(next emulator.InvokeFunc) emulator.InvokeFunc {
	return func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (resp events.APIGatewayProxyResponse, err error) {
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				l.write(start, ev, 0, fmt.Errorf("panic: %v", p))
				panic(p)
			}
			l.write(start, ev, resp.StatusCode, err)
		}()
		return next(ctx, ev)
	}
}

const (
	ansiReset  = "\x1b[0m"
	ansiDim    = "\x1b[2m"
	ansiCyan   = "\x1b[36m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
)

func (l *invocationLog) write(start time.Time, ev *events.APIGatewayWebsocketProxyRequest, status int, err error) {
	d := time.Since(start)
	rc := &ev.RequestContext
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf[:0]
	if l.format == "json" {
		b = append(b, `{"time":"`...)
		b = start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
		b = append(b, `","route":`...)
		b = appendJSONString(b, rc.RouteKey)
		b = append(b, `,"connectionId":`...)
		b = appendJSONString(b, rc.ConnectionID)
		b = append(b, `,"requestId":`...)
		b = appendJSONString(b, rc.RequestID)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `,"durationMs":`...)
		b = strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'f', 3, 64)
		if err != nil {
			b = append(b, `,"error":`...)
			b = appendJSONString(b, err.Error())
		}
		b = append(b, "}\n"...)
	} else {
		color := l.format == "color"
		paint := func(b []byte, code string) []byte {
			if color {
				b = append(b, code...)
			}
			return b
		}
		b = paint(b, ansiDim)
		b = start.AppendFormat(b, "15:04:05.000")
		b = paint(b, ansiReset)
		b = append(b, "  "...)
		b = paint(b, ansiCyan)
		b = append(b, rc.RouteKey...)
		b = paint(b, ansiReset)
		for i := len(rc.RouteKey); i < l.routeWidth+2; i++ {
			b = append(b, ' ')
		}
		b = append(b, rc.ConnectionID...)
		b = append(b, "  "...)
		switch {
		case err != nil || status >= 500:
			b = paint(b, ansiRed)
		case status >= 400:
			b = paint(b, ansiYellow)
		default:
			b = paint(b, ansiGreen)
		}
		if err != nil {
			b = append(b, "ERR"...)
		} else {
			b = strconv.AppendInt(b, int64(status), 10)
		}
		b = paint(b, ansiReset)
		b = appendLatency(b, d)
		if err != nil {
			b = append(b, "  "...)
			b = append(b, err.Error()...)
		}
		b = append(b, '\n')
	}
	l.buf = b
	_, _ = l.w.Write(b)
}

// appendLatency appends d right-aligned in 10 columns with three
// significant digits: "    412µs", "   12.3ms", "    1.20s".
func appendLatency(b []byte, d time.Duration) []byte {
	var num [16]byte
	n := num[:0]
	switch {
	case d < time.Millisecond:
		n = strconv.AppendInt(n, d.Microseconds(), 10)
		n = append(n, "µs"...)
	case d < time.Second:
		ms := float64(d) / float64(time.Millisecond)
		prec := 1
		if ms < 10 {
			prec = 2
		} else if ms >= 100 {
			prec = 0
		}
		n = strconv.AppendFloat(n, ms, 'f', prec, 64)
		n = append(n, "ms"...)
	default:
		n = strconv.AppendFloat(n, d.Seconds(), 'f', 2, 64)
		n = append(n, 's')
	}
	width := utf8.RuneCount(n)
	for i := width; i < 10; i++ {
		b = append(b, ' ')
	}
	return append(b, n...)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
