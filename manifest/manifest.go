package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Version is the manifest format version this package writes and reads.
const Version = 1

// Reserved route keys, as in API Gateway.
const (
	RouteConnect    = "$connect"
	RouteDisconnect = "$disconnect"
	RouteDefault    = "$default"
)

// Manifest describes a mullet app as plain data.
type Manifest struct {
	// Version is the manifest format version (Version).
	Version int `json:"version"`
	// Name is the app's name; infra/ derives resource names from it.
	Name string `json:"name"`
	// RouteSelectionExpression selects a route from each frame, e.g.
	// "$request.body.action".
	RouteSelectionExpression string `json:"routeSelectionExpression"`
	// Routes lists every route, sorted by key.
	Routes []Route `json:"routes"`
	// State describes per-connection state.
	State State `json:"state"`
	// Barriers lists the app's barriers, sorted by name.
	Barriers []Barrier `json:"barriers,omitempty"`
	// Authorizer, if set, says the app decides $connect itself (its
	// function also serves API Gateway's Lambda REQUEST authorizer events).
	Authorizer *Authorizer `json:"authorizer,omitempty"`
	// ConnectAuth, if set, is API Gateway's own authorization of $connect:
	// IAM signatures and API keys with usage plans.
	ConnectAuth *ConnectAuth `json:"connectAuth,omitempty"`
	// Continuity, if set, describes the app's sessions, durable groups and
	// presence (docs/protocol.md).
	Continuity *Continuity `json:"continuity,omitempty"`
	// Pushes lists the declared types of what the app broadcasts to
	// groups, sorted by group prefix.
	Pushes []Push `json:"pushes,omitempty"`
}

// Message is a declared type of frames the server sends: the Go type of a
// route's replies or of a group's broadcasts.
type Message struct {
	// Name names the type in generated documents and code, e.g. "Said"
	// (the Go type's name). One name means one schema across the manifest.
	Name string `json:"name"`
	// Schema is the draft-04 JSON Schema of the frames, derived from the Go
	// type as route schemas are.
	Schema json.RawMessage `json:"schema"`
}

// Push declares the frames broadcast to the groups whose names start with
// Group ("" for every group). The longest matching prefix applies.
type Push struct {
	Group   string  `json:"group"`
	Message Message `json:"message"`
}

// PushFor returns the declared push message of a group: the one with the
// longest prefix of group.
func (m *Manifest) PushFor(group string) (Message, bool) {
	best := -1
	for i, p := range m.Pushes {
		if strings.HasPrefix(group, p.Group) && (best < 0 || len(p.Group) > len(m.Pushes[best].Group)) {
			best = i
		}
	}
	if best < 0 {
		return Message{}, false
	}
	return m.Pushes[best].Message, true
}

// Continuity describes sessions, durable groups and presence.
type Continuity struct {
	// Sessions reports that clients may present sessions on $connect.
	Sessions bool `json:"sessions,omitempty"`
	// SessionTTLSeconds is how long a session lives without a connection.
	SessionTTLSeconds int64 `json:"sessionTtlSeconds,omitempty"`
	// Groups are the declared group prefixes, sorted by prefix.
	Groups []GroupSpec `json:"groups,omitempty"`
}

// GroupSpec describes the groups whose names start with Prefix.
type GroupSpec struct {
	Prefix           string `json:"prefix"`
	Durable          bool   `json:"durable,omitempty"`
	Window           int    `json:"window,omitempty"`
	WindowTTLSeconds int64  `json:"windowTtlSeconds,omitempty"`
	Presence         bool   `json:"presence,omitempty"`
	GraceSeconds     int64  `json:"graceSeconds,omitempty"`
}

// ConnectAuth is API Gateway's own authorization of $connect.
type ConnectAuth struct {
	// IAM requires a SigV4 signature on the upgrade (signed headers or a
	// presigned URL) by a principal allowed execute-api:Invoke on the
	// $connect route (AuthorizationType AWS_IAM). It excludes a Lambda
	// authorizer: a route has one authorization type.
	IAM bool `json:"iam,omitempty"`
	// APIKeys, if set, requires an API key on $connect (apiKeyRequired),
	// counted against the key's usage plan.
	APIKeys *APIKeys `json:"apiKeys,omitempty"`
}

// The API key selection expressions API Gateway accepts.
const (
	// APIKeyFromHeader reads the key from the x-api-key header.
	APIKeyFromHeader = "$request.header.x-api-key"
	// APIKeyFromAuthorizer takes the key a Lambda authorizer returned as
	// usageIdentifierKey.
	APIKeyFromAuthorizer = "$context.authorizer.usageIdentifierKey"
)

// APIKeys describes API keys on $connect and the usage plans keys belong
// to. Which keys exist is deploy-time data (infra props, or local
// configuration), not part of the declaration.
type APIKeys struct {
	// SelectionExpression is where API Gateway reads the key:
	// APIKeyFromHeader (empty means this) or APIKeyFromAuthorizer.
	SelectionExpression string `json:"selectionExpression,omitempty"`
	// Plans are the usage plans, sorted by name. At least one.
	Plans []UsagePlan `json:"plans"`
}

// UsagePlan is an API Gateway usage plan: a throttle and a quota that
// every key of the plan gets separately.
type UsagePlan struct {
	// Name identifies the plan, e.g. "free" or "paid".
	Name string `json:"name"`
	// Throttle limits each key's request rate; nil: the stage's limits.
	Throttle *Throttle `json:"throttle,omitempty"`
	// Quota limits each key's requests per period; nil: no quota.
	Quota *Quota `json:"quota,omitempty"`
}

// Throttle is a token bucket: a steady-state rate and a burst.
type Throttle struct {
	RatePerSecond float64 `json:"ratePerSecond"`
	Burst         int     `json:"burst"`
}

// Quota is a number of requests per period.
type Quota struct {
	// Limit is the number of requests allowed per period.
	Limit int `json:"limit"`
	// Period is "DAY", "WEEK" or "MONTH".
	Period string `json:"period"`
}

// Plan returns the usage plan with the given name.
func (k *APIKeys) Plan(name string) (UsagePlan, bool) {
	for _, p := range k.Plans {
		if p.Name == name {
			return p, true
		}
	}
	return UsagePlan{}, false
}

// KeySelectionExpression returns SelectionExpression or its default.
func (k *APIKeys) KeySelectionExpression() string {
	if k.SelectionExpression == "" {
		return APIKeyFromHeader
	}
	return k.SelectionExpression
}

// Authorizer describes the app's $connect authorizer.
type Authorizer struct {
	// IdentitySources are the request parts API Gateway requires and passes
	// to the authorizer, e.g. "route.request.querystring.token"; a request
	// missing one is refused with 401 without invoking it. Empty means
	// "route.request.header.Authorization".
	IdentitySources []string `json:"identitySources,omitempty"`
}

// Route describes one route.
type Route struct {
	// Key is the route key: "$connect", "$disconnect", "$default" or a
	// custom key the route selection expression yields.
	Key string `json:"key"`
	// TwoWay reports whether the route has a route response: the handler's
	// reply is sent back to the caller by API Gateway.
	TwoWay bool `json:"twoWay,omitempty"`
	// Model is the API Gateway model name for Schema (alphanumeric).
	Model string `json:"model,omitempty"`
	// Schema is the draft-04 JSON Schema frames of this route must satisfy,
	// exactly as it becomes an API Gateway model. Empty means no validation.
	Schema json.RawMessage `json:"schema,omitempty"`
	// Replies, if set, is the declared type of the route's replies.
	Replies *Message `json:"replies,omitempty"`
}

// State describes per-connection state.
type State struct {
	// Type is the Go type name of the state, for documentation.
	Type string `json:"type,omitempty"`
	// TTLSeconds is how long state and connection records live after
	// $connect.
	TTLSeconds int64 `json:"ttlSeconds"`
}

// Barrier describes a barrier declared by the app.
type Barrier struct {
	// Name identifies the barrier within the app.
	Name string `json:"name"`
	// Size is the party size n.
	Size int `json:"size"`
	// TTLSeconds is how long a barrier waits before it expires.
	TTLSeconds int64 `json:"ttlSeconds"`
	// Timeout reports that waiting participants are told when the barrier
	// expires, which takes a scheduler (EventBridge Scheduler in AWS).
	Timeout bool `json:"timeout,omitempty"`
}

// Timers reports whether any barrier of m needs a scheduler.
func (m *Manifest) Timers() bool {
	if m.Continuity != nil {
		for _, g := range m.Continuity.Groups {
			if g.Presence {
				return true // presence grace periods
			}
		}
	}
	for _, b := range m.Barriers {
		if b.Timeout {
			return true
		}
	}
	return false
}

var modelName = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// Validate reports the first problem that would stop API Gateway or the
// emulator from using the manifest.
func (m *Manifest) Validate() error {
	if m.Version != Version {
		return fmt.Errorf("manifest: version %d is not supported; this build reads version %d", m.Version, Version)
	}
	if strings.TrimSpace(m.Name) == "" {
		return errors.New("manifest: name is empty")
	}
	if m.RouteSelectionExpression == "" {
		return errors.New("manifest: routeSelectionExpression is empty")
	}
	seen := make(map[string]bool, len(m.Routes))
	models := make(map[string]bool, len(m.Routes))
	for i, r := range m.Routes {
		if r.Key == "" {
			return fmt.Errorf("manifest: routes[%d] has an empty key", i)
		}
		if seen[r.Key] {
			return fmt.Errorf("manifest: route %q appears twice", r.Key)
		}
		seen[r.Key] = true
		if strings.HasPrefix(r.Key, "$") && r.Key != RouteConnect && r.Key != RouteDisconnect && r.Key != RouteDefault {
			return fmt.Errorf("manifest: route %q: keys starting with '$' are reserved for $connect, $disconnect and $default", r.Key)
		}
		if len(r.Schema) > 0 {
			if !json.Valid(r.Schema) {
				return fmt.Errorf("manifest: route %q: schema is not valid JSON", r.Key)
			}
			if !modelName.MatchString(r.Model) {
				return fmt.Errorf("manifest: route %q: model name %q must be alphanumeric", r.Key, r.Model)
			}
			if models[r.Model] {
				return fmt.Errorf("manifest: model name %q is used by two routes", r.Model)
			}
			models[r.Model] = true
		}
	}
	if m.Authorizer != nil {
		for _, src := range m.Authorizer.IdentitySources {
			if !strings.HasPrefix(src, "route.request.header.") && !strings.HasPrefix(src, "route.request.querystring.") &&
				!strings.HasPrefix(src, "stageVariables.") && !strings.HasPrefix(src, "context.") {
				return fmt.Errorf("manifest: authorizer identity source %q: use route.request.header.NAME or route.request.querystring.NAME", src)
			}
		}
	}
	if err := m.ConnectAuth.validate(m.Authorizer != nil); err != nil {
		return err
	}
	if err := m.validateMessages(); err != nil {
		return err
	}
	for _, b := range m.Barriers {
		if b.Name == "" || b.Size < 2 {
			return fmt.Errorf("manifest: barrier %q: needs a name and a size of at least 2", b.Name)
		}
	}
	return nil
}

var messageName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// validateMessages checks the declared outbound messages: names that can
// name a type in generated code, schemas that are JSON objects, one schema
// per name, one declaration per group prefix.
func (m *Manifest) validateMessages() error {
	schemas := map[string]string{}
	check := func(where string, msg Message) error {
		if !messageName.MatchString(msg.Name) {
			return fmt.Errorf("manifest: %s: message name %q: use a letter, then up to 63 letters, digits or '_'", where, msg.Name)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(msg.Schema, &obj); err != nil {
			return fmt.Errorf("manifest: %s: message %q: schema is not a JSON object", where, msg.Name)
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, msg.Schema)
		if prev, ok := schemas[msg.Name]; ok && prev != buf.String() {
			return fmt.Errorf("manifest: %s: message name %q is declared with two different schemas; give one of the types another name", where, msg.Name)
		}
		schemas[msg.Name] = buf.String()
		return nil
	}
	for _, r := range m.Routes {
		if r.Replies != nil {
			if err := check(fmt.Sprintf("route %q replies", r.Key), *r.Replies); err != nil {
				return err
			}
		}
	}
	groups := map[string]bool{}
	for _, p := range m.Pushes {
		if strings.HasPrefix(p.Group, "$") {
			return fmt.Errorf("manifest: pushes to group prefix %q: group names starting with '$' are reserved", p.Group)
		}
		if groups[p.Group] {
			return fmt.Errorf("manifest: pushes to group prefix %q are declared twice", p.Group)
		}
		groups[p.Group] = true
		if err := check(fmt.Sprintf("pushes to group prefix %q", p.Group), p.Message); err != nil {
			return err
		}
	}
	return nil
}

var planName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (a *ConnectAuth) validate(lambdaAuthorizer bool) error {
	if a == nil {
		return nil
	}
	if a.IAM && lambdaAuthorizer {
		return errors.New("manifest: connectAuth.iam and an authorizer exclude each other: API Gateway authorizes $connect with IAM or with a Lambda authorizer, not both")
	}
	k := a.APIKeys
	if k == nil {
		return nil
	}
	switch k.SelectionExpression {
	case "", APIKeyFromHeader, APIKeyFromAuthorizer:
	default:
		return fmt.Errorf("manifest: apiKeys.selectionExpression %q: use %s or %s", k.SelectionExpression, APIKeyFromHeader, APIKeyFromAuthorizer)
	}
	if k.SelectionExpression == APIKeyFromAuthorizer && !lambdaAuthorizer {
		return fmt.Errorf("manifest: apiKeys.selectionExpression %s needs an authorizer that returns the key", APIKeyFromAuthorizer)
	}
	if len(k.Plans) == 0 {
		return errors.New("manifest: apiKeys needs at least one usage plan")
	}
	seen := map[string]bool{}
	for _, p := range k.Plans {
		if !planName.MatchString(p.Name) {
			return fmt.Errorf("manifest: usage plan %q: use 1-64 letters, digits, '-' or '_'", p.Name)
		}
		if seen[p.Name] {
			return fmt.Errorf("manifest: usage plan %q appears twice", p.Name)
		}
		seen[p.Name] = true
		if t := p.Throttle; t != nil && (t.RatePerSecond <= 0 || t.Burst <= 0) {
			return fmt.Errorf("manifest: usage plan %q: throttle rate and burst must be positive", p.Name)
		}
		if q := p.Quota; q != nil {
			if q.Limit <= 0 {
				return fmt.Errorf("manifest: usage plan %q: quota limit must be positive", p.Name)
			}
			switch q.Period {
			case "DAY", "WEEK", "MONTH":
			default:
				return fmt.Errorf("manifest: usage plan %q: quota period %q: use DAY, WEEK or MONTH", p.Name, q.Period)
			}
		}
	}
	return nil
}

// Route returns the route with the given key.
func (m *Manifest) Route(key string) (Route, bool) {
	for _, r := range m.Routes {
		if r.Key == key {
			return r, true
		}
	}
	return Route{}, false
}

// Normalize sorts routes and barriers so that output is deterministic.
func (m *Manifest) Normalize() {
	sort.Slice(m.Routes, func(i, j int) bool { return m.Routes[i].Key < m.Routes[j].Key })
	sort.Slice(m.Barriers, func(i, j int) bool { return m.Barriers[i].Name < m.Barriers[j].Name })
	sort.Slice(m.Pushes, func(i, j int) bool { return m.Pushes[i].Group < m.Pushes[j].Group })
	if m.ConnectAuth != nil && m.ConnectAuth.APIKeys != nil {
		plans := m.ConnectAuth.APIKeys.Plans
		sort.Slice(plans, func(i, j int) bool { return plans[i].Name < plans[j].Name })
	}
}

// Marshal returns the manifest as indented, deterministic JSON.
func (m *Manifest) Marshal() ([]byte, error) {
	c := *m
	c.Routes = append([]Route(nil), m.Routes...)
	c.Barriers = append([]Barrier(nil), m.Barriers...)
	c.Pushes = append([]Push(nil), m.Pushes...)
	if m.ConnectAuth != nil {
		auth := *m.ConnectAuth
		if auth.APIKeys != nil {
			keys := *auth.APIKeys
			keys.Plans = append([]UsagePlan(nil), keys.Plans...)
			auth.APIKeys = &keys
		}
		c.ConnectAuth = &auth
	}
	c.Normalize()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode reads and validates a manifest. Unknown fields are an error, so a
// manifest written by a newer mullet is not silently misread.
func Decode(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("manifest: decode: trailing data after the manifest")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	// Indented output re-indents the schemas; give them back compact, as
	// the schema package emits them and as API Gateway models store them.
	for i := range m.Routes {
		if len(m.Routes[i].Schema) > 0 {
			m.Routes[i].Schema = compact(m.Routes[i].Schema)
		}
		if r := m.Routes[i].Replies; r != nil {
			r.Schema = compact(r.Schema)
		}
	}
	for i := range m.Pushes {
		m.Pushes[i].Message.Schema = compact(m.Pushes[i].Message.Schema)
	}
	return &m, nil
}

// compact returns valid JSON without insignificant space.
func compact(data json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, data) != nil {
		return data
	}
	return buf.Bytes()
}

// ModelName derives an API Gateway model name from a route key: the
// alphanumeric runs of the key in CamelCase followed by "Model", e.g.
// "chat/send" -> "ChatSendModel" and "$default" -> "DefaultModel".
func ModelName(routeKey string) string {
	var b strings.Builder
	upper := true
	for _, r := range routeKey {
		isAlnum := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		if !isAlnum {
			upper = true
			continue
		}
		if upper && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		upper = false
		b.WriteRune(r)
	}
	return b.String() + "Model"
}
