package mullettest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/bootstrap"
	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/local/lambdaruntime"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/store"
)

// Options configures a Server. nil means defaults.
type Options struct {
	// IdleTimeout and MaxDuration override API Gateway's 10 minutes and
	// 2 hours.
	IdleTimeout, MaxDuration time.Duration
	// Logger receives the emulator's and the app's logs. nil: t.Log.
	Logger *slog.Logger
	// Page is served outside the stage path, as by mullet.Main.
	Page http.Handler
	// Store is the app's store. nil: a new in-memory store.
	Store store.Store
	// Lambda, if set, runs the app as AWS runs it instead of in the test
	// process: see Lambda. Store must then be nil.
	Lambda *Lambda
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
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	serveOpts := &local.Options{
		Addr: "127.0.0.1:0", Out: io.Discard, Logger: o.Logger, Page: o.Page, Store: o.Store,
		IdleTimeout: o.IdleTimeout, MaxDuration: o.MaxDuration,
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
		ready <- &Server{URL: ws, CallbackURL: cb, Pool: pool}
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
}

// Dial connects a client and closes it when the test ends.
func (s *Server) Dial(t testing.TB) *Client {
	t.Helper()
	c, err := s.DialErr(context.Background(), nil)
	if err != nil {
		t.Fatalf("mullettest: dial %s: %v", s.URL, err)
	}
	t.Cleanup(func() { c.Conn.CloseNow() })
	return c
}

// DialFrom connects a client whose TCP connection starts from the given
// loopback IP (any of 127.0.0.0/8 on Linux), so that the app sees it as that
// source IP. It closes the client when the test ends.
func (s *Server) DialFrom(t testing.TB, ip string) *Client {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	hc := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}}
	c, err := s.DialErr(context.Background(), &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("mullettest: dial %s from %s: %v", s.URL, ip, err)
	}
	t.Cleanup(func() { c.Conn.CloseNow() })
	return c
}

// DialErr connects a client, returning the error (and the HTTP response
// of a refused handshake through the error's text).
func (s *Server) DialErr(ctx context.Context, opts *websocket.DialOptions) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, s.URL, opts)
	if err != nil {
		if resp != nil {
			return nil, &HandshakeError{Status: resp.StatusCode, Err: err}
		}
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return &Client{Conn: conn}, nil
}

// HandshakeError reports a refused websocket handshake.
type HandshakeError struct {
	Status int
	Err    error
}

func (e *HandshakeError) Error() string { return e.Err.Error() }
func (e *HandshakeError) Unwrap() error { return e.Err }

// Send writes a text frame.
func (c *Client) Send(t testing.TB, frame string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		t.Fatalf("mullettest: send: %v", err)
	}
}

// SendJSON writes v as a JSON text frame.
func (c *Client) SendJSON(t testing.TB, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	c.Send(t, string(data))
}

// Read returns the next frame, failing the test after 5 seconds.
func (c *Client) Read(t testing.TB) string {
	t.Helper()
	frame, err := c.ReadTimeout(5 * time.Second)
	if err != nil {
		t.Fatalf("mullettest: read: %v", err)
	}
	return frame
}

// ReadTimeout returns the next frame or an error after d. A timeout
// closes the connection (coder/websocket cannot resume a read cut off by
// its context).
func (c *Client) ReadTimeout(d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, data, err := c.Conn.Read(ctx)
	return string(data), err
}

// ExpectSilence fails the test if a frame arrives within d. It closes the
// connection afterwards when nothing arrived, so call it last.
func (c *Client) ExpectSilence(t testing.TB, d time.Duration) {
	t.Helper()
	frame, err := c.ReadTimeout(d)
	if err == nil {
		t.Fatalf("mullettest: expected no frame, got %s", frame)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("mullettest: expected no frame, got error %v", err)
	}
}

type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
