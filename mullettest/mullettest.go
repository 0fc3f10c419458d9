package mullettest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/trace"

	"github.com/mulletgo/mullet/bootstrap"
	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/framework/errorframe"
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/local/lambdaruntime"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/store"
)

// Options configures a Server. nil means defaults.
type Options struct {
	// IdleTimeout and MaxDuration override API Gateway's 10 minutes and
	// 2 hours.
	IdleTimeout, MaxDuration time.Duration
	// IntegrationTimeout overrides API Gateway's 29 seconds for an
	// invocation (e.g. for a test whose store is far slower than
	// DynamoDB).
	IntegrationTimeout time.Duration
	// Logger receives the emulator's and the app's logs. nil: t.Log.
	Logger *slog.Logger
	// Page is served outside the stage path, as by mullet.Main.
	Page http.Handler
	// Store is the app's store. nil: a new in-memory store.
	Store store.Store
	// Lambda, if set, runs the app as AWS runs it instead of in the test
	// process: see Lambda. Store must then be nil.
	Lambda *Lambda
	// APIKeys are the API keys $connect accepts, for an app that requires
	// them (App.RequireAPIKeys); clients send one with
	// DialOptions.Header {"x-api-key": ...}.
	APIKeys []emulator.APIKey
	// ConnectPrincipals are the IAM principals whose signatures $connect
	// accepts, for an app that requires IAM. nil: the emulator's
	// credentials (emulator.DefaultCredentials).
	ConnectPrincipals []emulator.Principal
	// ConnectThrottle is the token bucket of new connections. nil: the
	// account's 500 a second.
	ConnectThrottle *manifest.Throttle
	// TracerProvider traces the app served in the test process
	// (local.Options.TracerProvider), e.g. one with the SDK's in-memory
	// exporter (go.opentelemetry.io/otel/sdk/trace/tracetest). nil: no
	// tracing.
	TracerProvider trace.TracerProvider
}

// Lambda configures NewServer to run the app's real Lambda binary: its main
// package (which calls mullet.Main) is built for this machine and run as
// Lambda instances, processes that aws-lambda-go inside the binary connects
// to an emulated Lambda Runtime API (package lambdaruntime). The emulator
// invokes them as API Gateway invokes Lambda: a cold start when every
// instance is busy, warm instances reused, a handler's panic or timeout
// answered with the "Internal server error" frame. Instances share no
// memory, so their state lives in a DynamoDB table, such as one of
// dynalitetest.
type Lambda struct {
	// MainDir is the directory of the app's main package. NewServer builds
	// it into a temporary directory with bootstrap.Build.
	MainDir string
	// Bootstrap, if set, is an executable already built with
	// bootstrap.Build, used instead of building MainDir.
	Bootstrap string
	// Table is the DynamoDB table the instances share (MULLET_TABLE).
	// Required.
	Table string
	// DynamoDBEndpoint is the DynamoDB-API server the instances use
	// (MULLET_DYNAMODB_ENDPOINT), e.g. a dynalitetest.Server's Endpoint.
	DynamoDBEndpoint string
	// Pool tunes the instances (MaxInstances, Timeout, InitTimeout,
	// IdleTimeout, FunctionName, extra Env). NewServer sets Bootstrap,
	// Output (the test log), Logger and the MULLET_ variables of Env.
	// nil: lambdaruntime's defaults.
	Pool *lambdaruntime.Options
	// Output, if set, also receives everything the instances write to
	// stdout and stderr, e.g. to read their EMF metric lines.
	Output io.Writer
}

// Server is an app served by the emulator for the duration of a test.
type Server struct {
	// URL is the websocket URL, ws://127.0.0.1:PORT/local.
	URL string
	// CallbackURL is the @connections base endpoint,
	// http://127.0.0.1:PORT/local.
	CallbackURL string
	// Pool runs the app's Lambda instances when Options.Lambda is set, for
	// its Stats; nil otherwise.
	Pool *lambdaruntime.Pool

	refusals *refusals
}

// refusals remembers why the emulator refused frames, by request ID, so
// that a client that gets the error frame can say why.
type refusals struct {
	mu        sync.Mutex
	byRequest map[string]string
}

func (r *refusals) add(rej *emulator.Rejection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byRequest[rej.RequestID] = rej.Reason()
}

func (r *refusals) reason(requestID string) (string, bool) {
	if r == nil {
		return "", false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	reason, ok := r.byRequest[requestID]
	return reason, ok
}

// NewServer serves app on a free loopback port until the test ends. With
// Options.Lambda, app may be nil: the routes are then read from the built
// binary; otherwise the binary's manifest must equal app's.
func NewServer(t testing.TB, app framework.Application, opts *Options) *Server {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if app == nil && o.Lambda == nil {
		t.Fatal("mullettest: NewServer(t, nil, ...): give the app to serve, e.g. mullettest.NewServer(t, app.New(), nil), or Options.Lambda to serve its built binary")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	refusals := &refusals{byRequest: make(map[string]string)}
	serveOpts := &local.Options{
		Addr: "127.0.0.1:0", Out: io.Discard, Logger: o.Logger, Page: o.Page, Store: o.Store,
		IdleTimeout: o.IdleTimeout, MaxDuration: o.MaxDuration, IntegrationTimeout: o.IntegrationTimeout,
		APIKeys: o.APIKeys, ConnectPrincipals: o.ConnectPrincipals, ConnectThrottle: o.ConnectThrottle,
		TracerProvider: o.TracerProvider,
		Rejected: func(r *emulator.Rejection) {
			refusals.add(r)
			t.Logf("mullettest: the emulator answered a frame of %s with %q: %s", r.ConnectionID, r.Message, r.Reason())
		},
	}
	var (
		m      *manifest.Manifest
		poolMu sync.Mutex
		pool   *lambdaruntime.Pool
	)
	if o.Lambda != nil {
		if o.Store != nil {
			t.Fatal("mullettest: Options.Store and Options.Lambda exclude each other: Lambda instances keep state in Lambda.Table")
		}
		l := *o.Lambda
		m = lambdaManifest(t, app, &l)
		serveOpts.Integration = func(callbackURL string) (local.Integration, error) {
			p, err := newLambdaPool(t, &l, o.Logger, callbackURL)
			if err != nil {
				return nil, err
			}
			poolMu.Lock()
			pool = p
			poolMu.Unlock()
			return p, nil
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *Server, 1)
	done := make(chan error, 1)
	serveOpts.Ready = func(ws, cb string) {
		poolMu.Lock()
		defer poolMu.Unlock()
		ready <- &Server{URL: ws, CallbackURL: cb, Pool: pool, refusals: refusals}
	}
	go func() {
		if m != nil {
			done <- local.ServeManifest(ctx, m, serveOpts)
		} else {
			done <- local.Serve(ctx, app, serveOpts)
		}
	}()
	var srv *Server
	select {
	case srv = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("mullettest: serve: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("mullettest: server did not start within 10s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("mullettest: serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("mullettest: server did not stop within 10s")
		}
	})
	return srv
}

// lambdaManifest builds the app's bootstrap into l.Bootstrap if need be and
// returns the manifest the binary declares, which must be app's if app is
// not nil.
func lambdaManifest(t testing.TB, app framework.Application, l *Lambda) *manifest.Manifest {
	t.Helper()
	if l.Table == "" {
		t.Fatal("mullettest: Lambda.Table is required: Lambda instances share no memory, so they keep state in a DynamoDB table (see dynalitetest)")
	}
	if l.Bootstrap == "" {
		if l.MainDir == "" {
			t.Fatal("mullettest: Lambda needs MainDir, the directory of the app's main package, or a built Bootstrap")
		}
		bin := filepath.Join(t.TempDir(), "bootstrap")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := bootstrap.Build(ctx, l.MainDir, bin, nil); err != nil {
			t.Fatalf("mullettest: %v", err)
		}
		l.Bootstrap = bin
	}
	m, _, err := bootstrap.ReadManifest(context.Background(), l.Bootstrap)
	if err != nil {
		t.Fatalf("mullettest: %v", err)
	}
	if app != nil {
		want, err := app.Manifest().Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("mullettest: the app's manifest differs from the one the binary %s declares; does Lambda.MainDir hold this app's main package?\napp:\n%s\nbinary:\n%s", l.Bootstrap, want, got)
		}
	}
	return m
}

// newLambdaPool starts a pool of the app's bootstrap that pushes to
// callbackURL, with the instances' output in the test log.
func newLambdaPool(t testing.TB, l *Lambda, logger *slog.Logger, callbackURL string) (*lambdaruntime.Pool, error) {
	var po lambdaruntime.Options
	if l.Pool != nil {
		po = *l.Pool
	}
	po.Bootstrap = l.Bootstrap
	po.Env = append(local.LambdaConfig(l.Table, l.DynamoDBEndpoint, callbackURL).Environ(), po.Env...)
	po.Output = instanceLog{t}
	if l.Output != nil {
		po.Output = io.MultiWriter(instanceLog{t}, l.Output)
	}
	if po.Logger == nil {
		po.Logger = logger
	}
	return lambdaruntime.NewPool(&po)
}

// instanceLog passes the Lambda instances' output to the test log, but for
// the app's info and debug lines, one per invocation and more.
type instanceLog struct{ t testing.TB }

func (w instanceLog) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		if strings.Contains(line, `"level":"INFO"`) || strings.Contains(line, `"level":"DEBUG"`) {
			continue
		}
		w.t.Log(strings.TrimRight(line, "\n"))
	}
	return len(p), nil
}

// Client is a websocket client of a Server.
type Client struct {
	Conn *websocket.Conn

	srv      *Server
	mu       sync.Mutex
	lastSent string // the last frame Send wrote, for timeout messages
}

// DialOptions configures a client's connection. nil means defaults; the
// caller's struct is never modified.
type DialOptions struct {
	// Header is sent with the upgrade request, e.g. an Authorization
	// header for the app's authorizer (ConnectRequest.Header).
	Header http.Header
	// Query is added to the websocket URL's query string, e.g. a token
	// (ConnectRequest.Query; browsers cannot set headers).
	Query url.Values
	// SourceIP is the address the app sees as the caller's source IP
	// (Conn.SourceIP). The emulator takes it from the TCP connection, as
	// API Gateway does (never from X-Forwarded-For), so the client binds
	// its end of the connection to this address: a loopback address such
	// as 127.0.0.2 (Linux routes all of 127.0.0.0/8 to the loopback
	// interface; macOS has only 127.0.0.1 unless more are aliased). ""
	// leaves the choice to the system: 127.0.0.1.
	SourceIP string
	// Subprotocols are offered in Sec-WebSocket-Protocol.
	Subprotocols []string
	// Timeout bounds the handshake. Default 10 seconds.
	Timeout time.Duration
}

// Dial connects a client and closes it when the test ends. opts may be
// nil. A refused handshake fails the test with the HTTP status.
func (s *Server) Dial(t testing.TB, opts *DialOptions) *Client {
	t.Helper()
	c, err := s.DialErr(context.Background(), opts)
	if err != nil {
		t.Fatalf("mullettest: %v", err)
	}
	t.Cleanup(func() { c.Conn.CloseNow() })
	return c
}

// DialErr connects a client, returning the error: a *HandshakeError for a
// handshake the app or the emulator refused. opts may be nil. The caller
// closes the client.
func (s *Server) DialErr(ctx context.Context, opts *DialOptions) (*Client, error) {
	var o DialOptions
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	u := s.URL
	if len(o.Query) > 0 {
		u += "?" + o.Query.Encode()
	}
	wo := &websocket.DialOptions{HTTPHeader: o.Header, Subprotocols: o.Subprotocols}
	if o.SourceIP != "" {
		ip := net.ParseIP(o.SourceIP)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("dial %s: SourceIP %q: use a loopback address such as 127.0.0.2; the emulator takes the source IP from the TCP connection, as API Gateway does", u, o.SourceIP)
		}
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: o.Timeout}
		wo.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}}
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, u, wo)
	if err != nil {
		if resp != nil {
			return nil, &HandshakeError{Status: resp.StatusCode, Err: fmt.Errorf("dial %s: the handshake was refused with HTTP %d: %w", u, resp.StatusCode, err)}
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("dial %s: no handshake within %v: %w", u, o.Timeout, err)
		}
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	conn.SetReadLimit(1 << 20)
	return &Client{Conn: conn, srv: s}, nil
}

// HandshakeError reports a refused websocket handshake.
type HandshakeError struct {
	// Status is the HTTP status of the refusal, e.g. 401 or 403.
	Status int
	Err    error
}

func (e *HandshakeError) Error() string { return e.Err.Error() }
func (e *HandshakeError) Unwrap() error { return e.Err }

// DefaultReadTimeout is how long Read and ReadJSON wait for a frame.
const DefaultReadTimeout = 5 * time.Second

// Send writes a text frame.
func (c *Client) Send(t testing.TB, frame string) {
	t.Helper()
	c.mu.Lock()
	c.lastSent = frame
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		t.Fatalf("mullettest: send %s: %v", frame, err)
	}
}

// SendJSON writes v as a JSON text frame.
func (c *Client) SendJSON(t testing.TB, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("mullettest: SendJSON: encode %T: %v", v, err)
	}
	c.Send(t, string(data))
}

// Read returns the next frame, failing the test after DefaultReadTimeout
// with what the client was waiting for.
func (c *Client) Read(t testing.TB) string {
	t.Helper()
	frame, err := c.ReadTimeout(DefaultReadTimeout)
	if err != nil {
		t.Fatalf("mullettest: Read: %v", err)
	}
	return frame
}

// ReadJSON reads the next frame into v, a pointer, failing the test after
// DefaultReadTimeout or if the frame does not decode into v. If the frame
// is API Gateway's own error frame instead ("Invalid request body",
// "Forbidden", "Internal server error", "Endpoint request timed out"), the
// test fails with why, as far as the server knows it: for a frame the
// emulator refused, the route and every schema violation, or the routes
// there are. Use Read to check an error frame on purpose.
func (c *Client) ReadJSON(t testing.TB, v any) {
	t.Helper()
	frame, err := c.ReadTimeout(DefaultReadTimeout)
	if err != nil {
		t.Fatalf("mullettest: ReadJSON into %T: %v", v, err)
	}
	if msg, requestID, ok := gatewayErrorFrame(frame); ok {
		why, known := c.srv.refusals.reason(requestID)
		switch {
		case known:
		case msg == errorframe.InternalServerError:
			why = "the integration failed: the handler returned an error or panicked (see the log above)"
		default:
			why = "the server recorded no reason"
		}
		t.Fatalf("mullettest: ReadJSON into %T: got API Gateway's %q error frame %s\n  why: %s", v, msg, frame, why)
	}
	if err := json.Unmarshal([]byte(frame), v); err != nil {
		t.Fatalf("mullettest: ReadJSON into %T: %v; the frame was %s", v, err, frame)
	}
}

// gatewayErrorFrame reports whether frame is one of the error frames API
// Gateway itself sends, and its message and request ID.
func gatewayErrorFrame(frame string) (message, requestID string, ok bool) {
	if !strings.HasPrefix(frame, `{"message": "`) {
		return "", "", false
	}
	var v map[string]string
	if json.Unmarshal([]byte(frame), &v) != nil || len(v) != 3 || v["connectionId"] == "" || v["requestId"] == "" {
		return "", "", false
	}
	switch v["message"] {
	case errorframe.Forbidden, errorframe.InvalidRequestBody, errorframe.InternalServerError, errorframe.EndpointRequestTimedOut:
		return v["message"], v["requestId"], true
	}
	return "", "", false
}

// TimeoutError is what ReadTimeout returns when no frame arrived in time:
// it says how long the client waited, and after sending what.
type TimeoutError struct {
	// Waited is how long the client waited.
	Waited time.Duration
	// LastSent is the last frame the client sent, "" if none.
	LastSent string
	// Err is the websocket library's error; it matches
	// context.DeadlineExceeded.
	Err error
}

func (e *TimeoutError) Error() string {
	if e.LastSent == "" {
		return fmt.Sprintf("no frame arrived within %v, and the client has sent none", e.Waited)
	}
	return fmt.Sprintf("no frame arrived within %v after the client sent %s", e.Waited, e.LastSent)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// ReadTimeout returns the next frame or an error after d: a *TimeoutError
// if nothing arrived. A timeout closes the connection (coder/websocket
// cannot resume a read cut off by its context).
func (c *Client) ReadTimeout(d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, data, err := c.Conn.Read(ctx)
	if err != nil {
		if ctx.Err() != nil {
			c.mu.Lock()
			last := c.lastSent
			c.mu.Unlock()
			return "", &TimeoutError{Waited: d, LastSent: last, Err: err}
		}
		if st := websocket.CloseStatus(err); st != -1 {
			return "", fmt.Errorf("the connection closed (status %d) while the client waited for a frame: %w", st, err)
		}
		return "", fmt.Errorf("reading a frame: %w", err)
	}
	return string(data), nil
}

// ExpectSilence fails the test if a frame arrives within d. It closes the
// connection afterwards when nothing arrived, so call it last.
func (c *Client) ExpectSilence(t testing.TB, d time.Duration) {
	t.Helper()
	frame, err := c.ReadTimeout(d)
	if err == nil {
		t.Fatalf("mullettest: expected no frame within %v, got %s", d, frame)
	}
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("mullettest: expected no frame within %v, got error %v", d, err)
	}
}

type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
