package mullettest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/framework/store"
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
}

// Server is an app served by the emulator for the duration of a test.
type Server struct {
	// URL is the websocket URL, ws://127.0.0.1:PORT/local.
	URL string
	// CallbackURL is the @connections base endpoint,
	// http://127.0.0.1:PORT/local.
	CallbackURL string
}

// NewServer serves app on a free loopback port until the test ends.
func NewServer(t testing.TB, app framework.Application, opts *Options) *Server {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- mullet.ServeLocal(ctx, app, &mullet.LocalOptions{
			Addr: "127.0.0.1:0", Out: io.Discard, Logger: o.Logger, Page: o.Page, Store: o.Store,
			IdleTimeout: o.IdleTimeout, MaxDuration: o.MaxDuration,
			Ready: func(ws, cb string) { ready <- &Server{URL: ws, CallbackURL: cb} },
		})
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
