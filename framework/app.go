package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/mulletgo/mullet/framework/selection"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/schema"
)

// Options configures an App's declaration. nil means defaults; the caller's
// struct is never modified.
type Options struct {
	// RouteSelectionExpression selects a route key from each frame. The
	// default is "$request.body.action"; templates such as
	// "${request.body.service}/${request.body.action}" are accepted.
	RouteSelectionExpression string
	// StateTTL is how long connection records, state and group memberships
	// live after $connect. The default, 2h10m, outlives API Gateway's 2 hour
	// maximum connection duration.
	StateTTL time.Duration
	// AlwaysValidate checks every frame against its route's schema inside
	// the function, also when API Gateway (or the local emulator) has
	// already checked it against the route's request model, the same
	// schema (see Runtime.GatewayChecksModels). By default such a frame is
	// checked once, by API Gateway; frames that reach a route through
	// $default are always checked by the framework.
	AlwaysValidate bool
	// Sessions turns on sessions that outlive connections (see
	// SessionOptions and docs/protocol.md). nil: connections only.
	Sessions *SessionOptions
}

// DefaultStateTTL is the default Options.StateTTL.
const DefaultStateTTL = 2*time.Hour + 10*time.Minute

// App is the declaration of a mullet app with per-connection state of type
// S. Declare routes with Handle, OnConnect, OnDisconnect and Default, then
// Bind it to a Runtime to serve invocations. Use struct{} for S when the app
// keeps no state.
type App[S any] struct {
	name     string
	rse      *selection.Expression
	stateTTL time.Duration

	routes          map[string]*route[S]
	middleware      []Middleware
	barriers        []manifest.Barrier
	timeouts        map[string]timeoutFunc // by barrier name
	authorizer      AuthorizeFunc
	identitySources []string
	// alwaysValidate is Options.AlwaysValidate.
	alwaysValidate bool
	connectAuth    *manifest.ConnectAuth // RequireIAM, RequireAPIKeys
	cont           continuityDecl
	pushes         []pushDecl // Publishes
}

// route is one declared route. run decodes the payload into the handler's
// type and calls it.
type route[S any] struct {
	key    string
	twoWay bool
	schema *schema.Schema
	// replies is the declared type of its replies (RouteOptions.Replies).
	replies *outbound
	run     func(ctx context.Context, c *Conn[S]) error
}

// Handler handles one invocation. Middleware wraps Handlers; typed handlers
// declared with Handle are converted to a Handler, so middleware applies to
// every route.
type Handler func(ctx context.Context, inv *Invocation) error

// Middleware wraps a Handler, e.g. to log, authorize or recover.
type Middleware func(Handler) Handler

// New declares an app. It panics if opts holds a bad route selection
// expression, naming the problem.
func New[S any](name string, opts *Options) *App[S] {
	if strings.TrimSpace(name) == "" {
		panic("framework.New: the app needs a name, e.g. framework.New[State](\"chat\", nil)")
	}
	expr := selection.DefaultExpression
	ttl := DefaultStateTTL
	always := false
	if opts != nil {
		always = opts.AlwaysValidate
		if opts.RouteSelectionExpression != "" {
			expr = opts.RouteSelectionExpression
		}
		if opts.StateTTL > 0 {
			ttl = opts.StateTTL
		}
	}
	rse, err := selection.Parse(expr)
	if err != nil {
		panic(fmt.Sprintf("framework.New(%q): bad RouteSelectionExpression: %v", name, err))
	}
	var zero S
	if _, err := json.Marshal(zero); err != nil {
		panic(fmt.Sprintf("framework.New(%q): the state type %s cannot be stored as JSON (%v); use a type encoding/json can marshal, without channels or funcs", name, typeName[S](), err))
	}
	a := &App[S]{name: name, rse: rse, stateTTL: ttl, routes: make(map[string]*route[S]), alwaysValidate: always}
	if opts != nil && opts.Sessions != nil {
		so := *opts.Sessions
		if so.TTL <= 0 {
			so.TTL = DefaultSessionTTL
		}
		if so.Window <= 0 {
			so.Window = DefaultWindow
		}
		if so.WindowTTL <= 0 {
			so.WindowTTL = so.TTL + time.Hour
		}
		a.cont.sessions = &so
	}
	return a
}

// Name returns the app's name.
func (a *App[S]) Name() string { return a.name }

// Use appends middleware. Middleware runs in the order added, outermost
// first, around every route. Like chi, it panics if called after a route was
// declared, because such middleware would silently skip earlier routes.
func (a *App[S]) Use(mw ...Middleware) {
	if len(a.routes) > 0 {
		panic("framework: Use must be called before any route is declared; move app.Use above Handle/OnConnect/OnDisconnect/Default")
	}
	a.middleware = append(a.middleware, mw...)
}

// RouteOptions configures one route (Handle, Default). nil means defaults;
// the caller's struct is never modified.
type RouteOptions struct {
	// TwoWay gives the route a route response: what the handler replies
	// (ReplyText, ReplyJSON) is sent back by API Gateway itself, with no
	// @connections call.
	TwoWay bool
	// Schema replaces the schema derived from the payload type with a
	// literal one (see schema.Parse).
	Schema *schema.Schema
	// AllowExtraFields lets frames carry fields the payload type does not
	// declare. By default they are rejected.
	AllowExtraFields bool
	// Replies declares the type of what the route replies (ReplyJSON,
	// ReplyText): a value of the type, e.g. Said{} or (*Said)(nil), or its
	// reflect.Type. The type gets a schema in the manifest (and so in the
	// AsyncAPI document and generated TypeScript types); with
	// Runtime.CheckOutbound, as in development, a reply that does not match
	// it is refused with an *OutboundError. nil: undeclared.
	Replies any
}

// Handle declares a route whose frames decode into T. The schema of T
// (see package schema) is enforced before fn runs, so fn only ever sees
// valid payloads. opts may be nil. It panics on a duplicate or reserved
// key, a key whose API Gateway model name another route already has, or a
// type that has no schema.
func Handle[S, T any](a *App[S], key string, fn func(ctx context.Context, c *Conn[S], msg T) error, opts *RouteOptions) {
	if key == "" || strings.HasPrefix(key, "$") {
		panic(fmt.Sprintf("framework.Handle(%q): custom route keys must be non-empty and must not start with '$'; use OnConnect, OnDisconnect or Default for reserved routes", key))
	}
	if fn == nil {
		panic(fmt.Sprintf("framework.Handle(%q): nil handler", key))
	}
	var cfg RouteOptions
	if opts != nil {
		cfg = *opts
	}
	checkSelectionFields[T](a.rse, key)
	s := cfg.Schema
	if s == nil {
		extra := make(map[string]json.RawMessage)
		for _, f := range a.rse.TopLevelFields() {
			extra[f] = json.RawMessage(`{"type":"string"}`)
		}
		// A request may be tagged for its reply (docs/protocol.md 7).
		extra[requestTagField] = json.RawMessage(`{"type":"string","minLength":1,"maxLength":64}`)
		// A request may carry its client's trace context (docs/protocol.md).
		extra[TraceParentField] = json.RawMessage(`{"type":"string","maxLength":128}`)
		extra[TraceStateField] = json.RawMessage(`{"type":"string","maxLength":512}`)
		if len(a.rse.Paths()) > 0 {
			for _, p := range a.rse.Paths() {
				if len(p) > 1 {
					extra[p[0]] = json.RawMessage(`{"type":"object"}`)
				}
			}
		}
		var err error
		s, err = schema.For[T](&schema.Options{AllowAdditionalProperties: cfg.AllowExtraFields, ExtraProperties: extra})
		if err != nil {
			panic(fmt.Sprintf("framework.Handle(%q): cannot derive a schema from %s: %v; give one with framework.RouteOptions{Schema: ...}", key, typeName[T](), err))
		}
	}
	a.add(&route[S]{key: key, twoWay: cfg.TwoWay, schema: s, replies: repliesOf(key, cfg.Replies), run: func(ctx context.Context, c *Conn[S]) error {
		var msg T
		if err := json.Unmarshal(c.inv.body, &msg); err != nil {
			return invalidBody(err)
		}
		return fn(ctx, c, msg)
	}})
}

// OnConnect declares the $connect handler. Returning an *Error with a 4xx
// Status (see Reject) refuses the connection with that HTTP status; any other
// error refuses it with 500.
func (a *App[S]) OnConnect(fn func(ctx context.Context, c *Conn[S]) error) {
	a.addReserved(manifest.RouteConnect, fn, false)
}

// OnDisconnect declares the $disconnect handler. It runs before the
// framework deletes the connection's record, state and memberships.
func (a *App[S]) OnDisconnect(fn func(ctx context.Context, c *Conn[S]) error) {
	a.addReserved(manifest.RouteDisconnect, fn, false)
}

// Default declares the $default handler: frames whose route cannot be
// selected (not JSON, no action field) or that match no route. It receives
// the raw body; no schema applies unless opts.Schema gives one. opts may be
// nil.
func (a *App[S]) Default(fn func(ctx context.Context, c *Conn[S], body []byte) error, opts *RouteOptions) {
	var cfg RouteOptions
	if opts != nil {
		cfg = *opts
	}
	if fn == nil {
		panic("framework: Default: nil handler")
	}
	a.add(&route[S]{key: manifest.RouteDefault, twoWay: cfg.TwoWay, schema: cfg.Schema, replies: repliesOf(manifest.RouteDefault, cfg.Replies), run: func(ctx context.Context, c *Conn[S]) error {
		return fn(ctx, c, c.inv.body)
	}})
}

// Authorize declares the app's $connect authorizer. It runs inside the
// $connect invocation, before the connection is recorded and before the
// OnConnect handler: returning an error refuses the connection (an *Error
// with a 4xx Status, see Reject, gives the client that status, usually 401
// or 403; any other error gives 500 and is logged) and nothing is stored.
// The AuthContext it returns for an allowed connection is kept with the
// connection's record and handed to every later invocation of that
// connection by Invocation.AuthContext, as API Gateway hands a Lambda
// authorizer's context to every later event in requestContext.authorizer.
//
// When API Gateway has already run a Lambda authorizer for $connect (the
// event's requestContext.authorizer carries a principalId, see
// App.LambdaAuthorizer), the framework does not run fn again: it records
// the context API Gateway passed.
//
// In AWS, infra/ deploys fn as API Gateway's Lambda REQUEST authorizer for
// $connect, served by the app's own function (see
// AuthorizeOptions.IdentitySources); without infra it still runs inside
// $connect. opts may be nil.
//
// It panics if fn is nil, if the app already has an authorizer, or if it
// requires IAM (RequireIAM): a route has one authorization type.
func (a *App[S]) Authorize(fn AuthorizeFunc, opts *AuthorizeOptions) {
	if fn == nil {
		panic("framework: Authorize: nil authorizer")
	}
	if a.connectAuth != nil && a.connectAuth.IAM {
		panic(fmt.Sprintf("framework: Authorize: app %q requires IAM on $connect (RequireIAM); API Gateway authorizes $connect with IAM or with a Lambda authorizer, not both", a.name))
	}
	if a.authorizer != nil {
		panic(fmt.Sprintf("framework: Authorize is called twice in app %q; an app has one $connect authorizer", a.name))
	}
	if opts != nil {
		a.identitySources = append([]string(nil), opts.IdentitySources...)
	}
	a.authorizer = fn
}

// AuthorizeOptions configures App.Authorize. nil means defaults; the
// caller's struct is never modified.
type AuthorizeOptions struct {
	// IdentitySources names the request parts API Gateway's REQUEST
	// authorizer requires, e.g. "route.request.querystring.token" (browsers
	// cannot set headers on a WebSocket) or
	// "route.request.header.Authorization" (the default). A $connect request
	// missing one is refused with 401 before the authorizer runs.
	IdentitySources []string
}

func (a *App[S]) addReserved(key string, fn func(ctx context.Context, c *Conn[S]) error, twoWay bool) {
	if fn == nil {
		panic(fmt.Sprintf("framework: %s: nil handler", key))
	}
	a.add(&route[S]{key: key, twoWay: twoWay, run: fn})
}

func (a *App[S]) add(r *route[S]) {
	if _, dup := a.routes[r.key]; dup {
		panic(fmt.Sprintf("framework: route %q is declared twice in app %q; each route key may be declared once", r.key, a.name))
	}
	if r.schema != nil {
		// Each route with a schema becomes an API Gateway model named
		// after its key; two keys with one model name would collide at
		// deployment.
		model := manifest.ModelName(r.key)
		for _, other := range a.routes {
			if other.schema != nil && manifest.ModelName(other.key) == model {
				panic(fmt.Sprintf("framework: routes %q and %q of app %q both get the API Gateway model name %q (model names keep only letters and digits); rename one of them",
					other.key, r.key, a.name, model))
			}
		}
	}
	a.routes[r.key] = r
}

// Manifest describes the app as plain data for the emulator and infra/.
func (a *App[S]) Manifest() *manifest.Manifest {
	m := &manifest.Manifest{
		Version:                  manifest.Version,
		Name:                     a.name,
		RouteSelectionExpression: a.rse.String(),
		State:                    manifest.State{Type: typeName[S](), TTLSeconds: int64(a.stateTTL / time.Second)},
	}
	// $connect and $disconnect are always routed to the app: the framework
	// records connections there, whether or not the app declares handlers.
	for _, key := range []string{manifest.RouteConnect, manifest.RouteDisconnect} {
		if _, ok := a.routes[key]; !ok {
			m.Routes = append(m.Routes, manifest.Route{Key: key})
		}
	}
	// Control frames (docs/protocol.md) reach the app through $default.
	if _, ok := a.routes[manifest.RouteDefault]; !ok && a.cont.active() {
		m.Routes = append(m.Routes, manifest.Route{Key: manifest.RouteDefault})
	}
	for _, r := range a.routes {
		mr := manifest.Route{Key: r.key, TwoWay: r.twoWay, Replies: r.replies.manifest()}
		if r.schema != nil {
			mr.Schema = r.schema.JSON()
			mr.Model = manifest.ModelName(r.key)
		}
		m.Routes = append(m.Routes, mr)
	}
	m.Barriers = append(m.Barriers, a.barriers...)
	m.Continuity = a.cont.manifest()
	for _, p := range a.pushes {
		m.Pushes = append(m.Pushes, manifest.Push{Group: p.prefix, Message: *p.msg.manifest()})
	}
	if a.authorizer != nil {
		m.Authorizer = &manifest.Authorizer{IdentitySources: append([]string(nil), a.identitySources...)}
	}
	if a.connectAuth != nil {
		auth := *a.connectAuth
		if auth.APIKeys != nil {
			keys := *auth.APIKeys
			keys.Plans = append([]UsagePlan(nil), keys.Plans...)
			auth.APIKeys = &keys
		}
		m.ConnectAuth = &auth
	}
	m.Normalize()
	return m
}

// checkSelectionFields panics if the payload type T declares a top-level
// field that the route selection expression reads with a Go type that can
// never hold the route key: its schema would refuse every frame of the
// route.
func checkSelectionFields[T any](rse *selection.Expression, key string) {
	t := reflect.TypeFor[T]()
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	if json.Valid([]byte(key)) {
		return // a key such as "5" or "true" is selected from a number or a boolean
	}
	for _, path := range rse.Paths() {
		if len(path) != 1 {
			continue // a nested path reads inside an object
		}
		name := path[0]
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if jsonName == "" && !f.Anonymous {
				jsonName = f.Name
			}
			if jsonName != name || !f.IsExported() {
				continue
			}
			switch ft := f.Type; {
			case ft.Kind() == reflect.String, ft.Kind() == reflect.Interface, ft == reflect.TypeFor[json.RawMessage]():
			default:
				panic(fmt.Sprintf("framework.Handle(%q): payload type %s declares field %q as %s, but the route selection expression %s reads that field as the route key, a string; drop the field or make it a string",
					key, typeName[T](), name, ft, rse))
			}
		}
	}
}

func typeName[T any]() string {
	t := reflect.TypeFor[T]()
	if t.PkgPath() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}
