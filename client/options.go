package client

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Defaults of Options.
const (
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultPingInterval   = 30 * time.Second
	DefaultPingTimeout    = 15 * time.Second
	DefaultIdleSync       = 8 * time.Minute
	DefaultMaxAge         = time.Hour + 55*time.Minute
	DefaultSendQueue      = 1024
	DefaultGapTimeout     = 500 * time.Millisecond
	DefaultRequestTimeout = 30 * time.Second
	DefaultDialTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultReadLimit      = 1 << 20
)

// Options configures Dial. A nil *Options, and every zero field, means the
// default; Dial never modifies the caller's Options.
type Options struct {
	// Header is added to every upgrade request.
	Header http.Header
	// Query is added to the URL's query string on every upgrade.
	Query url.Values
	// Upgrade, when set, prepares every upgrade request before it is
	// dialled (it runs again on each reconnect): sign it (SigV4 in
	// headers or a presigned URL), add an API key or other headers. It may
	// replace r.URL. The request already holds Header, Query and the
	// session parameters. The signature is
	// func(ctx context.Context, r *http.Request) error, so a SigV4
	// signer's Sign method or an x-api-key hook plugs in as it is.
	Upgrade func(ctx context.Context, r *http.Request) error
	// HTTPClient dials the upgrade; nil means a client of its own whose
	// transport is http.DefaultTransport's settings with keep-alives off.
	// Every upgrade must go out exactly once on a fresh connection
	// (docs/protocol.md 2.2): net/http silently sends a GET again when a
	// reused keep-alive connection fails after the request was written,
	// and if the first copy was applied the second is refused, hiding a
	// rotated secret. A client given here should disable keep-alives too.
	HTTPClient *http.Client

	// NoSession dials plain connections: no session, no resume, no sync.
	NoSession bool
	// Resume starts from a session saved with Conn.Session in another
	// process, instead of a new session.
	Resume *SessionState

	// MinBackoff and MaxBackoff bound the wait between reconnect attempts:
	// it doubles from MinBackoff up to MaxBackoff, each wait drawn at
	// random from its upper half (jitter). Defaults 100 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// PingInterval is how often a websocket ping checks that the connection
	// is alive; a ping without a pong within PingTimeout drops the
	// connection and reconnects. Defaults 30 s and 15 s; a negative
	// PingInterval sends no pings.
	PingInterval, PingTimeout time.Duration
	// IdleSync keeps an idle session connection below API Gateway's
	// 10-minute idle timeout: after this long without a data frame either
	// way, the client sends a sync frame (a data frame that costs one
	// invocation and changes nothing). Default 8 minutes; negative: never.
	// Whether AWS counts websocket pings as activity is not documented,
	// so pings alone are not relied on.
	IdleSync time.Duration
	// MaxAge reconnects proactively after a connection has been open this
	// long, before API Gateway's 2-hour cut. Default 1h55m; negative:
	// never.
	MaxAge time.Duration
	// GapTimeout is how long messages of a durable group may wait in the
	// buffer for a missing offset (or for the group's first position)
	// before the client sends sync to have the gap replayed. Default
	// 500 ms.
	GapTimeout time.Duration

	// SendQueue bounds the frames Send holds while disconnected; when it is
	// full, Send returns ErrQueueFull. Default 1024.
	SendQueue int
	// RequestTimeout bounds a Request whose ctx has no deadline. Default
	// 30 s.
	RequestTimeout time.Duration
	// DialTimeout bounds each upgrade attempt. Default 10 s.
	DialTimeout time.Duration
	// WriteTimeout bounds each frame's write. Default 10 s.
	WriteTimeout time.Duration
	// ReadLimit is the largest message accepted, in bytes. Default 1 MiB
	// (API Gateway sends at most 128 KB).
	ReadLimit int64

	// OnStatus, when set, is called on every connect and disconnect, from
	// the client's own goroutine: it must not block.
	OnStatus func(Status)
	// Logger receives debug lines about reconnects; nil logs nothing.
	Logger *slog.Logger
}

// Status is a connection change, given to Options.OnStatus.
type Status struct {
	// Connected: a connection opened. Otherwise one was lost (Err says
	// how) or an attempt failed (Attempt > 0).
	Connected bool
	// Attempt counts the failed attempts since the last connection.
	Attempt int
	// Err is why a connection ended or an attempt failed; a
	// websocket.CloseError when the server closed it.
	Err error
	// Session is the session ID; Resumed reports a connection that
	// resumed it (every connection after the first, unless NewSession).
	Session    string
	Resumed    bool
	NewSession bool
	// Proactive reports a connection closed by the client before the
	// 2-hour limit (MaxAge).
	Proactive bool
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	v.Header = v.Header.Clone()
	if v.Header == nil {
		v.Header = http.Header{}
	}
	q := url.Values{}
	for k, vs := range v.Query {
		q[k] = append([]string(nil), vs...)
	}
	v.Query = q
	def := func(d *time.Duration, x time.Duration) {
		if *d == 0 {
			*d = x
		}
	}
	def(&v.MinBackoff, DefaultMinBackoff)
	def(&v.MaxBackoff, DefaultMaxBackoff)
	if v.MaxBackoff < v.MinBackoff {
		v.MaxBackoff = v.MinBackoff
	}
	def(&v.PingInterval, DefaultPingInterval)
	def(&v.PingTimeout, DefaultPingTimeout)
	def(&v.IdleSync, DefaultIdleSync)
	def(&v.MaxAge, DefaultMaxAge)
	def(&v.GapTimeout, DefaultGapTimeout)
	def(&v.RequestTimeout, DefaultRequestTimeout)
	def(&v.DialTimeout, DefaultDialTimeout)
	def(&v.WriteTimeout, DefaultWriteTimeout)
	if v.SendQueue <= 0 {
		v.SendQueue = DefaultSendQueue
	}
	if v.ReadLimit <= 0 {
		v.ReadLimit = DefaultReadLimit
	}
	if v.HTTPClient == nil {
		v.HTTPClient = freshConnections()
	}
	return v
}

// freshConnections returns an HTTP client that opens a new connection for
// every request, so that no upgrade is ever sent twice (Options.HTTPClient).
func freshConnections() *http.Client {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true}}
	}
	t = t.Clone()
	t.DisableKeepAlives = true
	return &http.Client{Transport: t}
}
