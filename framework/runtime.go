package framework

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel/trace"

	"github.com/mulletgo/mullet/framework/emf"
	"github.com/mulletgo/mullet/framework/errorframe"
	"github.com/mulletgo/mullet/framework/selection"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/schema"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// Runtime holds what an app needs to serve invocations. Build it once at
// cold start (never in init, never per invocation). nil fields get defaults.
type Runtime struct {
	// Store keeps connection records, state, groups and barriers. nil means
	// a new in-memory store, which is right for the emulator and tests but
	// not for Lambda, where each instance would see its own.
	Store store.Store
	// Callback reaches connections through @connections. nil disables Send,
	// Broadcast, Close, Info and Reply on one-way routes (they return
	// ErrNoCallback).
	Callback *Callback
	// Scheduler delivers the timers of barriers that tell their waiting
	// participants when they time out (Barrier.OnTimeout). nil: such
	// participants are told only when a later arrival finds the barrier
	// expired.
	Scheduler Scheduler
	// Logger receives handler failures. nil discards.
	Logger *slog.Logger
	// Now returns the current time. nil means time.Now.
	Now func() time.Time
	// MaxDepth limits the nesting depth of JSON frames. Default 64.
	MaxDepth int
	// GatewayChecksModels says that API Gateway, or the local emulator,
	// stands in front of the function with the app's manifest: every frame
	// it routes to a route with a schema has already passed that route's
	// request model, the same schema. The framework then does not check
	// such a frame again (unless the app sets Options.AlwaysValidate); it
	// still checks frames that reached it through $default, where no model
	// applied, and frames of events that name no route of the app.
	// runtimeenv.NewRuntime sets it for Lambda and local serving; leave it
	// false when calling Invoke directly, as tests do.
	GatewayChecksModels bool
	// CheckOutbound checks what the app replies and broadcasts against the
	// types it declared (RouteOptions.Replies, Publishes): a frame that
	// does not match is not sent, the call returns an *OutboundError and
	// the Logger gets it. It is for development and tests (local serving,
	// mullet dev and mullettest set it); in AWS it is off, and frames are
	// sent unchecked.
	CheckOutbound bool
	// TracerProvider traces every invocation, its store calls and its
	// @connections calls with OpenTelemetry (span names in
	// docs/observability.md). nil: no tracing, at no cost. The framework
	// never sets a global provider: the program that owns the process
	// builds one (in Lambda, mullet.Main does, from the OTEL_*
	// environment variables) and passes it here.
	TracerProvider trace.TracerProvider
	// Metrics receives one CloudWatch Embedded Metric Format line per
	// invocation (package framework/emf): the route's invocations,
	// errors, duration, pushes, gone connections, throttles, barrier
	// releases and timeouts, and replays. In Lambda it is stdout, where
	// CloudWatch Logs extracts the metrics. nil: no metrics.
	Metrics io.Writer
}

// Invoker serves API Gateway WebSocket events. The Lambda adapter and the
// emulator both call it.
type Invoker interface {
	Invoke(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)
}

// Application is what the Lambda adapter, the emulator and the CLI need of
// an App, whatever its state type.
type Application interface {
	Name() string
	Manifest() *manifest.Manifest
	Bind(rt *Runtime) Invoker
}

var _ Application = (*App[struct{}])(nil)

type boundRuntime struct {
	store     store.Store
	callback  *Callback
	scheduler Scheduler
	logger    *slog.Logger
	now       func() time.Time
	maxDepth  int
	// trustModels: frames API Gateway routed to a route with a schema
	// are not checked again (Runtime.GatewayChecksModels and not
	// Options.AlwaysValidate).
	trustModels bool
	zeroState   []byte
	// authorizes reports that the app declared an authorizer, so that its
	// context may be on connection records.
	authorizes bool
	// identifies reports that API Gateway authenticates callers at
	// $connect (IAM, API keys), so that records carry an identity.
	identifies bool
	// decl is what the app declared of sessions and groups; cont is the
	// store's continuity side, nil if it has none.
	decl *continuityDecl
	cont store.Continuity
	// endpoint is the @connections endpoint last used, for the work of a
	// connection found gone (its presence's grace timer).
	endpoint atomic.Pointer[string]
	// checkOutbound is Runtime.CheckOutbound; pushes are the app's
	// Publishes declarations.
	checkOutbound bool
	pushes        []pushDecl
	// observer traces and measures invocations; nil when the Runtime has
	// neither a TracerProvider nor Metrics.
	observer *observer
}

func (rt *boundRuntime) noteEndpoint(ep string) {
	if p := rt.endpoint.Load(); p == nil || *p != ep {
		rt.endpoint.Store(&ep)
	}
}

func (rt *boundRuntime) lastEndpoint() string {
	if p := rt.endpoint.Load(); p != nil {
		return *p
	}
	return ""
}

// forget removes a connection found gone. Failures are logged: the record
// expires by itself.
func (rt *boundRuntime) forget(ctx context.Context, id string) {
	ctx = context.WithoutCancel(ctx)
	if rt.decl.sessions != nil {
		if rec, err := rt.store.GetConnection(ctx, id); err == nil && rec.Session != "" {
			if rt.now().Sub(rec.ConnectedAt) < connectingWindow {
				// A resumed connection is back in its groups during its
				// own $connect, when pushes to it still get 410: it is
				// not gone, only not connected yet.
				return
			}
			rt.away(ctx, rt.lastEndpoint(), rec)
		}
	}
	if err := retryStore(ctx, func() error { return rt.store.DeleteConnection(ctx, id) }); err != nil {
		rt.logger.Warn("could not remove gone connection", "connectionId", id, "error", err)
	}
}

// function is an App bound to a Runtime.
type function[S any] struct {
	app      *App[S]
	rt       *boundRuntime
	routes   map[string]*route[S]
	handlers map[string]Handler
	custom   bool
}

// Bind returns an Invoker that serves the app's routes with rt. The
// declaration must be complete: routes declared after Bind are not served.
func (a *App[S]) Bind(rt *Runtime) Invoker {
	var r Runtime
	if rt != nil {
		r = *rt
	}
	b := &boundRuntime{store: r.Store, callback: r.Callback, scheduler: r.Scheduler, logger: r.Logger, now: r.Now, maxDepth: r.MaxDepth, authorizes: a.authorizer != nil, identifies: a.connectAuth != nil,
		trustModels: r.GatewayChecksModels && !a.alwaysValidate, decl: &a.cont,
		checkOutbound: r.CheckOutbound, pushes: a.pushes}
	if b.store == nil {
		b.store = memstore.New(&memstore.Options{Now: r.Now})
	}
	b.cont, _ = b.store.(store.Continuity)
	if r.TracerProvider != nil || r.Metrics != nil {
		b.observer = &observer{}
		if r.TracerProvider != nil {
			b.observer.tracer = r.TracerProvider.Tracer(TracerName)
			b.store = &tracedStore{next: b.store, tracer: b.observer.tracer}
			if b.cont != nil {
				b.cont = &tracedContinuity{next: b.cont, tracer: b.observer.tracer}
			}
		}
		if r.Metrics != nil {
			b.observer.metrics = emf.NewWriter(r.Metrics, a.name, nil)
		}
	}
	if b.logger == nil {
		b.logger = slog.New(slog.DiscardHandler)
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.maxDepth <= 0 {
		b.maxDepth = 64
	}
	if b.scheduler == nil && len(a.timeouts) > 0 {
		b.logger.Warn("a barrier tells waiting participants when it times out, but the Runtime has no Scheduler: they are told only when a later arrival finds the barrier expired (in Lambda, infra/ provides one through MULLET_SCHEDULER_ROLE_ARN)")
	}
	var zero S
	b.zeroState, _ = json.Marshal(zero)
	f := &function[S]{app: a, rt: b, routes: make(map[string]*route[S], len(a.routes)), handlers: make(map[string]Handler, len(a.routes))}
	for key, rte := range a.routes {
		f.routes[key] = rte
		run := rte.run
		var h Handler = func(ctx context.Context, inv *Invocation) error {
			return run(ctx, inv.conn.(*Conn[S]))
		}
		for i := len(a.middleware) - 1; i >= 0; i-- {
			h = a.middleware[i](h)
		}
		f.handlers[key] = h
		if !isReserved(key) {
			f.custom = true
		}
	}
	return f
}

func isReserved(key string) bool {
	return key == manifest.RouteConnect || key == manifest.RouteDisconnect || key == manifest.RouteDefault
}

// Invoke serves one event. A frame the app refuses (a 4xx *Error, a body
// that fails its model) becomes the status code and error frame API Gateway
// would produce. A message handler that fails (any other error) makes
// Invoke return a *HandlerError: an invocation error, for which API Gateway,
// and the emulator alike, send the caller the Internal server error frame,
// on one-way routes too. $connect and $disconnect never return an error.
func (f *function[S]) Invoke(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	if f.rt.observer != nil {
		return f.rt.observer.invoke(ctx, event, f.rt.now, f.invoke)
	}
	return f.invoke(ctx, event)
}

func (f *function[S]) invoke(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	switch event.RequestContext.EventType {
	case "CONNECT":
		return f.connect(ctx, event), nil
	case "DISCONNECT":
		return f.disconnect(ctx, event), nil
	case TimerEventType:
		return f.timer(ctx, event)
	}
	switch event.RequestContext.RouteKey {
	case manifest.RouteConnect:
		return f.connect(ctx, event), nil
	case manifest.RouteDisconnect:
		return f.disconnect(ctx, event), nil
	}
	return f.message(ctx, event)
}

func (f *function[S]) newConn(event *events.APIGatewayWebsocketProxyRequest, body []byte, twoWay bool) *Conn[S] {
	c := &Conn[S]{inv: &Invocation{event: event, id: event.RequestContext.ConnectionID, body: body, rt: f.rt, twoWay: twoWay, route: event.RequestContext.RouteKey}}
	c.inv.conn = c
	return c
}

// authorization is the outcome of authorize.
type authorization struct {
	ac          AuthContext       // as the authorizer or API Gateway gave it
	flat        map[string]string // as the connection record keeps it
	fromGateway bool              // API Gateway ran a Lambda authorizer
}

// authorize runs the app's authorizer for a $connect event, unless API
// Gateway already ran one. It returns the context to record, or the
// response that refuses the connection.
func (f *function[S]) authorize(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) (authorization, *events.APIGatewayProxyResponse) {
	var ac AuthContext
	m, fromGateway := gatewayAuthorizer(event)
	if fromGateway {
		ac = AuthContext(m)
	} else if fn := f.app.authorizer; fn != nil {
		var err error
		ac, err = runAuthorizer(ctx, fn, newConnectRequest(event))
		if err != nil {
			status := statusOf(err)
			if status >= 500 {
				f.logFailure(event, "$connect authorizer failed", err)
			} else {
				f.rt.logger.Info("connection refused by the authorizer", "requestId", event.RequestContext.RequestID,
					"connectionId", event.RequestContext.ConnectionID, "status", status, "reason", clientMessage(err))
			}
			return authorization{}, &events.APIGatewayProxyResponse{StatusCode: status, Body: clientMessage(err)}
		}
	} else {
		return authorization{}, nil
	}
	flat, err := flattenAuthContext(ac)
	if err != nil {
		f.logFailure(event, "$connect authorizer returned a bad context", err)
		return authorization{}, &events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError, Body: "Internal server error"}
	}
	return authorization{ac: ac, flat: flat, fromGateway: fromGateway}, nil
}

func (f *function[S]) connect(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) events.APIGatewayProxyResponse {
	auth, refused := f.authorize(ctx, event)
	if refused != nil {
		return *refused
	}
	rc := &event.RequestContext
	connectedAt := time.UnixMilli(rc.ConnectedAt)
	if rc.ConnectedAt == 0 {
		connectedAt = f.rt.now()
	}
	rec := store.Connection{
		ID: rc.ConnectionID, ConnectedAt: connectedAt, SourceIP: rc.Identity.SourceIP,
		UserAgent: rc.Identity.UserAgent, Expires: connectedAt.Add(f.app.stateTTL),
		Authorizer: auth.flat, Identity: storedIdentity(rc.Identity),
	}
	sess, refused := f.bindSession(ctx, event, auth.flat, rec.Expires)
	if refused != nil {
		return *refused
	}
	if sess != nil {
		rec.Session = sess.id
		if sess.resumed && len(sess.before.Authorizer) > 0 {
			// The session's identity carries over to every connection.
			rec.Authorizer = sess.before.Authorizer
			auth.flat = rec.Authorizer
		}
	}
	if err := retryStore(ctx, func() error { return f.rt.store.PutConnection(ctx, rec) }); err != nil {
		f.logFailure(event, "store connection record", err)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}
	}
	if sess != nil && sess.resumed {
		f.rebind(ctx, event, sess, rec.Expires)
	}
	h, ok := f.handlers[manifest.RouteConnect]
	if !ok {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}
	}
	c := f.newConn(event, nil, false)
	switch {
	case auth.fromGateway:
		// API Gateway's own map, as later events will carry it.
		c.inv.auth, c.inv.authLoaded = auth.ac, true
	case f.app.authorizer != nil:
		// As later invocations will read it from the record.
		c.inv.auth, c.inv.authLoaded = expandAuthContext(auth.flat), true
		if c.inv.auth == nil {
			c.inv.auth = AuthContext{}
		}
	}
	if err := callHandler(ctx, h, c.inv); err != nil {
		f.rt.forget(ctx, rc.ConnectionID)
		status := statusOf(err)
		if status >= 500 {
			f.logFailure(event, "$connect handler failed", err)
		}
		return events.APIGatewayProxyResponse{StatusCode: status, Body: clientMessage(err)}
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}
}

func (f *function[S]) disconnect(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) events.APIGatewayProxyResponse {
	status := http.StatusOK
	if h, ok := f.handlers[manifest.RouteDisconnect]; ok {
		c := f.newConn(event, nil, false)
		if err := callHandler(ctx, h, c.inv); err != nil {
			f.logFailure(event, "$disconnect handler failed", err)
			status = http.StatusInternalServerError
		}
	}
	id := event.RequestContext.ConnectionID
	if f.rt.decl.sessions != nil {
		if rec, err := f.rt.store.GetConnection(ctx, id); err == nil && rec.Session != "" {
			ep := ""
			if f.rt.callback != nil {
				ep = f.rt.callback.Endpoint(event.RequestContext.DomainName, event.RequestContext.Stage)
			}
			f.rt.away(ctx, ep, rec)
		}
	}
	if err := retryStore(ctx, func() error { return f.rt.store.DeleteConnection(ctx, id) }); err != nil {
		f.logFailure(event, "delete connection record", err)
		status = http.StatusInternalServerError
	}
	return events.APIGatewayProxyResponse{StatusCode: status}
}

// selectRoute picks the route for a frame. API Gateway has already chosen
// event.RequestContext.RouteKey; when that is $default (or unknown, as with
// a deployment that only has a $default route), the app's own route
// selection expression is evaluated so that the app routes the same way.
func (f *function[S]) selectRoute(event *events.APIGatewayWebsocketProxyRequest, body []byte) (*route[S], string) {
	key := event.RequestContext.RouteKey
	if r, ok := f.routes[key]; ok && key != manifest.RouteDefault {
		return r, key
	}
	if f.custom {
		if sel, err := f.app.rse.SelectBody(body); err == nil {
			if r, ok := f.routes[sel]; ok && !isReserved(sel) {
				return r, sel
			}
			key = sel
		} else if errors.Is(err, selection.ErrNoMatch) && key == "" {
			key = manifest.RouteDefault
		}
	}
	if r, ok := f.routes[manifest.RouteDefault]; ok {
		return r, manifest.RouteDefault
	}
	return nil, key
}

func (f *function[S]) message(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	body := []byte(event.Body)
	if event.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(event.Body)
		if err != nil {
			return f.reject(ctx, event, nil, http.StatusBadRequest, "Invalid request body: body is not valid base64"), nil
		}
		body = decoded
	}
	if f.rt.decl.active() {
		if cf, ok := isControl(body); ok {
			return f.control(ctx, event, cf)
		}
	}
	r, key := f.selectRoute(event, body)
	if r == nil {
		msg := "No route for this frame"
		if key != "" && key != manifest.RouteDefault {
			msg = fmt.Sprintf("No route %q and no $default route", key)
		} else {
			msg = fmt.Sprintf("No route could be selected with %s and there is no $default route", f.app.rse)
		}
		if f.rt.decl.active() {
			// The $default route is the framework's, for control frames:
			// answer as API Gateway answers a frame without a route.
			msg = errorframe.Forbidden
		}
		return f.reject(ctx, event, nil, http.StatusForbidden, msg), nil
	}
	if r.schema != nil {
		if err := checkDepth(body, f.rt.maxDepth); err != nil {
			return f.reject(ctx, event, r, http.StatusBadRequest, "Invalid request body: "+err.Error()), nil
		}
		// API Gateway checked the frame against this route's request
		// model if it routed it here itself; a frame that came through
		// $default (or an event naming another route) had no model.
		checked := f.rt.trustModels && r.key == event.RequestContext.RouteKey
		if !checked {
			if err := r.schema.ValidateJSON(body); err != nil {
				return f.reject(ctx, event, r, http.StatusBadRequest, "Invalid request body: "+describeInvalid(err)), nil
			}
		}
	}
	if f.rt.observer != nil {
		noteRoute(ctx, r.key)
	}
	if r.key != event.RequestContext.RouteKey {
		// Handlers see the route that was actually served.
		ev := *event
		ev.RequestContext.RouteKey = r.key
		event = &ev
	}
	c := f.newConn(event, body, r.twoWay)
	c.inv.rid = requestTag(body)
	c.inv.replies = r.replies
	err := callHandler(ctx, f.handlers[r.key], c.inv)
	if err != nil {
		status := statusOf(err)
		if status >= 500 {
			// An invocation error, not a 5xx response: API Gateway sends
			// its Internal server error frame only for an invocation error,
			// on one-way routes too; a returned 5xx reaches a one-way
			// caller as nothing at all.
			f.logFailure(event, "handler failed", err)
			return events.APIGatewayProxyResponse{}, &HandlerError{RequestID: event.RequestContext.RequestID, Err: err}
		}
		return f.reject(ctx, event, r, status, clientMessage(err)), nil
	}
	resp := events.APIGatewayProxyResponse{StatusCode: http.StatusOK}
	if r.twoWay {
		c.inv.replyMu.Lock()
		resp.Body = string(c.inv.replyData)
		c.inv.replyMu.Unlock()
	}
	return resp, nil
}

// reject answers a frame the app refuses with an error frame shaped like
// API Gateway's. On a two-way route the frame is the route response;
// otherwise it is posted to the caller.
func (f *function[S]) reject(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest, r *route[S], status int, message string) events.APIGatewayProxyResponse {
	frame := errorFrame(message, event)
	if !event.IsBase64Encoded {
		frame = tagReply(frame, requestTag([]byte(event.Body)), true)
	}
	resp := events.APIGatewayProxyResponse{StatusCode: status, Body: string(frame)}
	f.rt.logger.Info("frame rejected", "requestId", event.RequestContext.RequestID,
		"connectionId", event.RequestContext.ConnectionID, "routeKey", event.RequestContext.RouteKey,
		"status", status, "reason", message)
	if r != nil && r.twoWay {
		return resp
	}
	if f.rt.callback != nil {
		rc := &event.RequestContext
		ep := f.rt.callback.Endpoint(rc.DomainName, rc.Stage)
		if err := f.rt.callback.Post(ctx, ep, rc.ConnectionID, frame); err != nil && !errors.Is(err, ErrGone) {
			f.logFailure(event, "could not send error frame", err)
		}
	}
	return resp
}

func (f *function[S]) logFailure(event *events.APIGatewayWebsocketProxyRequest, msg string, err error) {
	f.rt.logger.Error(msg, "requestId", event.RequestContext.RequestID,
		"connectionId", event.RequestContext.ConnectionID, "routeKey", event.RequestContext.RouteKey,
		"error", err.Error())
}

func errorFrame(message string, event *events.APIGatewayWebsocketProxyRequest) []byte {
	return errorframe.New(message, event.RequestContext.ConnectionID, event.RequestContext.RequestID)
}

func clientMessage(err error) string {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return errorframe.InternalServerError
}

func invalidBody(err error) error {
	return &Error{Status: http.StatusBadRequest, Message: "Invalid request body: " + err.Error(), Err: err}
}

func describeInvalid(err error) string {
	var ve *schema.ValidationError
	if errors.As(err, &ve) {
		// Every violation, most specific first.
		first := schema.Violation{Path: ve.Path, Keyword: ve.Keyword, Message: ve.Message}
		var b strings.Builder
		for _, v := range append([]schema.Violation{first}, ve.Violations...) {
			if b.Len() > 0 && v == first {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			path := v.Path
			if path == "" {
				path = "/"
			}
			fmt.Fprintf(&b, "%s: %s: %s", path, v.Keyword, v.Message)
		}
		return b.String()
	}
	var se *schema.SyntaxError
	if errors.As(err, &se) {
		return "malformed JSON: " + se.Message
	}
	return err.Error()
}

// checkDepth rejects JSON nested deeper than max without decoding it.
func checkDepth(body []byte, max int) error {
	depth := 0
	inString := false
	for i := 0; i < len(body); i++ {
		ch := body[i]
		if inString {
			switch ch {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch ch {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return fmt.Errorf("JSON nested deeper than %d levels", max)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
