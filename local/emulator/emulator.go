package emulator

import (
	"context"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/framework/selection"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/schema"
)

// Defaults. The limits and timeouts are API Gateway's WebSocket quotas
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html),
// none of which can be raised in AWS.
const (
	// DefaultStage is the stage name used when Options.Stage is empty.
	DefaultStage = "local"
	// DefaultAddr is the address Listen binds when given "".
	DefaultAddr = "127.0.0.1:8080"
	// DefaultIdleTimeout is API Gateway's idle connection timeout.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultMaxDuration is API Gateway's maximum connection duration.
	DefaultMaxDuration = 2 * time.Hour
	// DefaultMaxFrameSize is API Gateway's WebSocket frame size quota.
	DefaultMaxFrameSize = 32 << 10
	// DefaultMaxMessageSize is API Gateway's message payload size quota.
	DefaultMaxMessageSize = 128 << 10
	// DefaultIntegrationTimeout is API Gateway's maximum integration
	// timeout.
	DefaultIntegrationTimeout = 29 * time.Second
	// DefaultSendBufferSize (4 MiB, 32 messages of the largest size) is
	// how many bytes of frames the emulator holds for a client that has
	// not read them yet, beyond what the operating system buffers; past
	// it, @connections answers 429. API Gateway does not document its own
	// figure.
	DefaultSendBufferSize = 4 << 20
	// MaxURLLength is API Gateway's quota on the length, in characters, of
	// a WebSocket API's URL: a longer request line gets 414.
	MaxURLLength = 4096
)

// Timeouts of the emulator's own that API Gateway does not document.
const (
	// closeTimeout bounds the closing handshake: how long the emulator
	// waits for the client's close frame after sending its own.
	closeTimeout = 3 * time.Second
	// writeTimeout bounds one write to a client. A client that does not
	// read for that long while frames wait for it is disconnected (1006).
	// No @connections call waits for it: they queue, or get 429.
	writeTimeout = 10 * time.Second
	// bodyReadTimeout bounds reading an @connections request body, so a
	// client trickling bytes holds no handler: 128 KiB arrive in far less
	// on any working link.
	bodyReadTimeout = 5 * time.Second
	// closeWait is how long Close waits for connections to close and for
	// their $disconnect events.
	closeWait = 5 * time.Second
)

// InvokeFunc is the integration: it is called the way API Gateway invokes a
// Lambda function through a Lambda proxy integration, with one event per
// $connect, message and $disconnect. ctx carries the integration timeout.
// It is called concurrently, also for one connection.
type InvokeFunc func(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// Options configures an Emulator. Manifest and Invoke are required; zero
// values of the other fields mean defaults. New does not modify or retain
// the Options.
type Options struct {
	// Manifest declares the routes, their request models and the route
	// selection expression. Required. The emulator reads it once, in New.
	Manifest *manifest.Manifest
	// Invoke is the integration, the stand-in for the Lambda function.
	// Required.
	Invoke InvokeFunc
	// Stage is the stage name, the first path segment of both endpoints.
	// Default DefaultStage.
	Stage string
	// APIID is the requestContext.apiId of every event. Default: 10 random
	// lowercase alphanumeric characters, like an AWS API ID.
	APIID string
	// IdleTimeout closes a connection (1001) when the client sends no frame
	// for this long. Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxDuration closes a connection (1001) this long after it was
	// established. Default DefaultMaxDuration.
	MaxDuration time.Duration
	// MaxFrameSize is the largest frame payload a client may send and the
	// size outgoing messages are fragmented at. Default DefaultMaxFrameSize.
	MaxFrameSize int
	// MaxMessageSize is the largest message a client may send, and the
	// largest body @connections accepts. Default DefaultMaxMessageSize.
	MaxMessageSize int
	// IntegrationTimeout is the deadline of the ctx passed to Invoke.
	// Default DefaultIntegrationTimeout.
	IntegrationTimeout time.Duration
	// SendBufferSize bounds the bytes of frames held for one client that
	// does not read them: when they exceed it, PostToConnection answers 429
	// LimitExceededException, as API Gateway does to a slow client, and
	// nothing waits. Default DefaultSendBufferSize.
	SendBufferSize int
	// Credentials is the access key whose Signature Version 4 signatures
	// @connections accepts. Zero means DefaultCredentials, which is what
	// local serving gives the app. A request signed with another access
	// key gets 403 UnrecognizedClientException, one whose signature does
	// not match gets 403 InvalidSignatureException, as in AWS.
	Credentials Credentials
	// AnySignature accepts any @connections request whose Authorization
	// header has SigV4's shape, checking neither key nor signature: for
	// tools that cannot sign with the emulator's credentials.
	AnySignature bool
	// ConnectPrincipals are the IAM principals whose SigV4 signatures the
	// WebSocket upgrade is accepted with (signed headers or a presigned
	// URL, service execute-api), when the manifest requires IAM on
	// $connect. nil: one principal with Credentials (default
	// DefaultCredentials), the access key local serving gives the app. An
	// unsigned upgrade gets 403 {"message":"Forbidden"}; another access
	// key, a wrong signature or a signature more than 5 minutes old (a
	// presigned URL past its X-Amz-Expires) gets 403 as in AWS.
	ConnectPrincipals []Principal
	// APIKeys are the API keys $connect accepts when the manifest requires
	// API keys, each in one of the manifest's usage plans. A missing or
	// unknown x-api-key gets 403 {"message":"Forbidden"}; a key past its
	// plan's throttle gets 429 {"message":"Too Many Requests"}, past its
	// quota 429 {"message":"Limit Exceeded"}, all before $connect runs.
	APIKeys []APIKey
	// ConnectThrottle is the token bucket of new connections: the stage's
	// throttle of $connect, or the account's quota of 500 new connections
	// a second (DefaultConnectThrottle, the default). A handshake past it
	// gets 429 {"message":"Too Many Requests"}.
	ConnectThrottle *manifest.Throttle
	// Logger receives the emulator's diagnostics. nil discards them.
	Logger *slog.Logger
	// Rejected, if set, is told of every frame the emulator answers with
	// API Gateway's error frame itself, without invoking the integration:
	// why the route's model refused it, or which routes exist when none
	// matched (see Rejection). It is called on the frame's goroutine, after
	// the error frame was sent. nil logs each at Info level to Logger.
	Rejected func(*Rejection)
	// Fallback serves requests for paths other than the two endpoints,
	// e.g. a page for `mullet dev`. nil answers them 403
	// {"message":"Forbidden"}, as API Gateway does.
	Fallback http.Handler
	// Now is the clock of event timestamps and of GetConnection's
	// connectedAt and lastActiveAt. nil means time.Now. Timeouts always use
	// the real clock.
	Now func() time.Time
	// Timers serves the stand-in for EventBridge Scheduler (see Scheduler)
	// at /{stage}/@scheduler (SchedulerPath), delivering due schedules to
	// Invoke: what an app whose barriers time out needs
	// (manifest.Manifest.Timers).
	Timers bool
}

// SchedulerPath is where, under the stage, an Emulator with Options.Timers
// serves its stand-in for EventBridge Scheduler's API: the scheduler
// client's endpoint is http://{addr}/{stage}/@scheduler.
const SchedulerPath = "/@scheduler"

// route is a manifest route compiled for serving.
type route struct {
	key    string
	twoWay bool
	schema *schema.Schema // nil: no request model
}

// Emulator is an http.Handler that behaves like an API Gateway WebSocket
// API stage. Create it with New; it is safe for concurrent use.
type Emulator struct {
	stage       string
	apiID       string
	invoke      InvokeFunc
	rse         *selection.Expression
	routes      map[string]*route
	models      bool            // some route has a request model
	decoder     *schema.Decoder // for frames, sharing the models' property names
	connectR    *route          // nil when the manifest has no $connect route
	disconnectR *route
	defaultR    *route
	idle        time.Duration
	maxDuration time.Duration
	maxFrame    int
	maxMessage  int
	integration time.Duration
	sendBuffer  int
	log         *slog.Logger
	rejected    func(*Rejection) // nil: logged
	routeKeys   []string         // sorted, for NoRouteError
	now         func() time.Time
	fallback    http.Handler
	sigv4       *sigV4Verifier
	gate        *connectGate // what API Gateway checks before $connect

	wsPath     string // "/{stage}"
	connPrefix string // "/{stage}/@connections/"

	scheduler       *Scheduler // nil unless Options.Timers
	schedulerPrefix string     // "/{stage}/@scheduler"

	// Header values shared by responses; never modified.
	hdrJSON, hdrForbidden, hdrGone, hdrBadRequest, hdrTooLarge, hdrLimit, hdrZero []string

	bodies sync.Pool // *[]byte of MaxMessageSize+1 bytes, for @connections bodies
	rngs   sync.Pool // *rand.ChaCha8, for request and message IDs
	stamp  atomic.Pointer[requestTime]

	baseCtx context.Context // parent of every Invoke ctx
	cancel  context.CancelFunc

	mu       sync.RWMutex
	conns    map[string]*conn // established connections
	closed   bool
	connWG   sync.WaitGroup // one per connection from $connect to $disconnect
	invokeWG sync.WaitGroup // one per in-flight message invocation
	workers  *pool          // goroutines that run message invocations
	shutOnce sync.Once
	shutDone chan struct{} // closed when all connections are gone
}

// New returns an Emulator for opts. It validates the manifest and compiles
// the route selection expression and every route's request model, so that
// a mistake in either is reported here rather than on the first message.
func New(opts *Options) (*Emulator, error) {
	if opts == nil {
		return nil, errors.New("emulator: nil Options; Manifest and Invoke are required")
	}
	if opts.Manifest == nil {
		return nil, errors.New("emulator: Options.Manifest is nil")
	}
	if opts.Invoke == nil {
		return nil, errors.New("emulator: Options.Invoke is nil; it is the integration (the Lambda handler) every route invokes")
	}
	if err := opts.Manifest.Validate(); err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	rse, err := selection.Parse(opts.Manifest.RouteSelectionExpression)
	if err != nil {
		return nil, fmt.Errorf("emulator: route selection expression: %w", err)
	}
	e := &Emulator{
		workers:     newPool(),
		stage:       cmpOr(opts.Stage, DefaultStage),
		apiID:       opts.APIID,
		invoke:      opts.Invoke,
		rse:         rse,
		routes:      make(map[string]*route, len(opts.Manifest.Routes)),
		idle:        cmpOr(opts.IdleTimeout, DefaultIdleTimeout),
		maxDuration: cmpOr(opts.MaxDuration, DefaultMaxDuration),
		maxFrame:    cmpOr(opts.MaxFrameSize, DefaultMaxFrameSize),
		maxMessage:  cmpOr(opts.MaxMessageSize, DefaultMaxMessageSize),
		integration: cmpOr(opts.IntegrationTimeout, DefaultIntegrationTimeout),
		sendBuffer:  cmpOr(opts.SendBufferSize, DefaultSendBufferSize),
		log:         opts.Logger,
		rejected:    opts.Rejected,
		now:         opts.Now,
		fallback:    opts.Fallback,
		sigv4:       newSigV4Verifier(opts.Credentials, opts.AnySignature),
		conns:       make(map[string]*conn),
		shutDone:    make(chan struct{}),

		hdrJSON:       []string{"application/json"},
		hdrForbidden:  []string{"ForbiddenException"},
		hdrGone:       []string{"GoneException"},
		hdrBadRequest: []string{"BadRequestException"},
		hdrTooLarge:   []string{"PayloadTooLargeException"},
		hdrLimit:      []string{"LimitExceededException"},
		hdrZero:       []string{"0"},
	}
	if !validStage(e.stage) {
		return nil, fmt.Errorf("emulator: stage %q: use letters, digits, '-' and '_' (at most 128)", e.stage)
	}
	if e.apiID == "" {
		e.apiID = randomAPIID()
	}
	if e.maxFrame < 0 || e.maxMessage < 0 || e.idle < 0 || e.maxDuration < 0 || e.integration < 0 || e.sendBuffer < 0 {
		return nil, errors.New("emulator: negative limit or timeout in Options")
	}
	if c := opts.Credentials; (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return nil, errors.New("emulator: Options.Credentials needs both AccessKeyID and SecretAccessKey, or neither for DefaultCredentials")
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.gate, err = newConnectGate(opts.Manifest, opts, e.now); err != nil {
		return nil, err
	}
	if ca := opts.Manifest.ConnectAuth; ca != nil && ca.APIKeys != nil && ca.APIKeys.KeySelectionExpression() == manifest.APIKeyFromAuthorizer {
		e.log.Warn("emulator: the app takes API keys from its authorizer (usageIdentifierKey); the emulator runs the authorizer inside $connect, so it does not check keys or usage plans")
	}
	for _, r := range opts.Manifest.Routes {
		cr := &route{key: r.Key, twoWay: r.TwoWay}
		if len(r.Schema) > 0 {
			s, err := schema.Parse(r.Schema)
			if err != nil {
				return nil, fmt.Errorf("emulator: route %q: request model %q: %w", r.Key, r.Model, err)
			}
			cr.schema = s
			e.models = true
		}
		e.routes[r.Key] = cr
		e.routeKeys = append(e.routeKeys, r.Key)
	}
	slices.Sort(e.routeKeys)
	var models []*schema.Schema
	for _, r := range e.routes {
		models = append(models, r.schema)
	}
	e.decoder = schema.NewDecoder(models...)
	e.connectR = e.routes[manifest.RouteConnect]
	e.disconnectR = e.routes[manifest.RouteDisconnect]
	e.defaultR = e.routes[manifest.RouteDefault]
	e.wsPath = "/" + e.stage
	e.connPrefix = "/" + e.stage + "/@connections/"
	if opts.Timers {
		e.scheduler = NewScheduler(e.invoke, e.log)
		e.schedulerPrefix = "/" + e.stage + SchedulerPath
	}
	e.rngs.New = func() any {
		var seed [32]byte
		_, _ = cryptorand.Read(seed[:]) // never fails since Go 1.24
		return rand.NewChaCha8(seed)
	}
	size := e.maxMessage + 1
	e.bodies.New = func() any {
		b := make([]byte, size)
		return &b
	}
	e.baseCtx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Stage returns the stage name, the first path segment of both endpoints.
func (e *Emulator) Stage() string { return e.stage }

// Credentials returns the access key whose signatures @connections
// accepts: give the app's SDK clients these.
func (e *Emulator) Credentials() Credentials {
	return Credentials{AccessKeyID: e.sigv4.creds.AccessKeyID, SecretAccessKey: e.sigv4.creds.SecretAccessKey}
}

// APIID returns the requestContext.apiId of the emulator's events.
func (e *Emulator) APIID() string { return e.apiID }

// ServeHTTP serves the WebSocket endpoint at /{stage} and the @connections
// API at /{stage}/@connections/{connectionId}. Any other path goes to
// Options.Fallback or is answered 403 {"message":"Forbidden"}, as API
// Gateway does.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(r.RequestURI) > MaxURLLength {
		// API Gateway's quota on a WebSocket API's URL length.
		e.writeError(w, http.StatusRequestURITooLong, nil, `{"message":"Request-URI Too Long"}`)
		return
	}
	p := r.URL.Path
	if p == e.wsPath {
		e.serveWebSocket(w, r)
		return
	}
	if id, ok := strings.CutPrefix(p, e.connPrefix); ok && id != "" {
		// An ID with an escaped '/' (%2F, as the SDK sends one) is an
		// invalid ID, answered by @connections; a further path segment
		// is another resource.
		if strings.IndexByte(id, '/') < 0 || !strings.Contains(strings.TrimPrefix(r.URL.EscapedPath(), e.connPrefix), "/") {
			e.serveConnections(w, r, id)
			return
		}
	}
	if e.scheduler != nil && strings.HasPrefix(p, e.schedulerPrefix+"/") {
		http.StripPrefix(e.schedulerPrefix, e.scheduler).ServeHTTP(w, r)
		return
	}
	if e.fallback != nil {
		e.fallback.ServeHTTP(w, r)
		return
	}
	if e.log.Enabled(r.Context(), slog.LevelInfo) {
		e.log.LogAttrs(r.Context(), slog.LevelInfo, "emulator: no such path; the endpoints are /{stage} and /{stage}/@connections/{id}",
			slog.String("method", r.Method), slog.String("path", p), slog.String("stage", e.stage))
	}
	e.writeError(w, http.StatusForbidden, e.hdrForbidden, `{"message":"Forbidden"}`)
}

// Close closes every WebSocket with 1001 (going away), fires $disconnect for
// each, and waits up to 5 seconds for that. New connections are refused
// with 503 from then on.
func (e *Emulator) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	return e.Shutdown(ctx)
}

// Shutdown is like Close but waits until ctx is done rather than 5 seconds.
// If ctx ends first, the remaining sockets are closed without a closing
// handshake; their $disconnect events still fire, once each, after Shutdown
// returns ctx's error.
func (e *Emulator) Shutdown(ctx context.Context) error {
	if e.scheduler != nil {
		// Timers not yet due are dropped, as a stopped emulator's
		// connections are.
		e.scheduler.Close()
	}
	e.mu.Lock()
	e.closed = true
	conns := make([]*conn, 0, len(e.conns))
	for _, c := range e.conns {
		conns = append(conns, c)
	}
	e.mu.Unlock()
	for _, c := range conns {
		c.initiateClose(closeGoingAway, reasonGoingAway)
	}
	e.shutOnce.Do(func() {
		go func() {
			e.connWG.Wait()
			e.invokeWG.Wait()
			e.cancel()
			close(e.shutDone)
		}()
	})
	select {
	case <-e.shutDone:
		return nil
	case <-ctx.Done():
		e.mu.RLock()
		conns = conns[:0]
		for _, c := range e.conns {
			conns = append(conns, c)
		}
		e.mu.RUnlock()
		for _, c := range conns {
			c.abort()
		}
		return fmt.Errorf("emulator: shutdown: %w", ctx.Err())
	}
}

// register adds an established connection. It reports false when the
// emulator is closed.
func (e *Emulator) register(c *conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.conns[c.id] = c
	return true
}

func (e *Emulator) unregister(c *conn) {
	e.mu.Lock()
	if e.conns[c.id] == c {
		delete(e.conns, c.id)
	}
	e.mu.Unlock()
}

func (e *Emulator) lookup(id string) *conn {
	e.mu.RLock()
	c := e.conns[id]
	e.mu.RUnlock()
	return c
}

// begin accounts for a connection whose $connect is about to run. It
// reports false when the emulator is closed.
func (e *Emulator) begin() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.connWG.Add(1)
	return true
}

// callInvoke runs the integration with the integration timeout. A panic in
// Invoke is returned as an error, as the Lambda runtime reports it.
func (e *Emulator) callInvoke(ev *events.APIGatewayWebsocketProxyRequest) (resp events.APIGatewayProxyResponse, timedOut bool, err error) {
	ctx := newInvokeCtx(e.baseCtx, e.integration)
	defer func() {
		timedOut = ctx.finish()
		if p := recover(); p != nil {
			err = fmt.Errorf("emulator: Invoke panicked: %v", p)
		}
	}()
	resp, err = e.invoke(ctx, ev)
	return resp, false, err
}

// writeError writes an API Gateway style JSON error.
func (e *Emulator) writeError(w http.ResponseWriter, status int, errorType []string, body string) {
	h := w.Header()
	h["Content-Type"] = e.hdrJSON
	if errorType != nil {
		h["x-amzn-ErrorType"] = errorType
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func validStage(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func randomAPIID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [10]byte
	fillRandom(b[:], alphabet)
	return string(b[:])
}

// fillRandom fills dst with characters of alphabet chosen uniformly with
// crypto/rand.
func fillRandom(dst []byte, alphabet string) {
	n := len(alphabet)
	limit := 256 - 256%n // reject bytes >= limit to avoid modulo bias
	var buf [32]byte
	for i := 0; i < len(dst); {
		_, _ = cryptorand.Read(buf[:]) // never fails since Go 1.24
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			dst[i] = alphabet[int(b)%n]
			i++
			if i == len(dst) {
				return
			}
		}
	}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
