package asyncapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/mulletgo/mullet/manifest"
)

// Version is the AsyncAPI version of the documents Document writes.
const Version = "3.0.0"

// ChannelName is the name of the one channel: the WebSocket endpoint.
const ChannelName = "websocket"

// Options configures Document and TypeScript. nil means defaults; the
// caller's struct is never modified.
type Options struct {
	// APIVersion is the document's info.version. Default "1.0.0".
	APIVersion string
	// LocalURL, if set, adds a server "local" at this WebSocket URL, e.g.
	// mullet dev's "ws://127.0.0.1:8080/local".
	LocalURL string
}

// Document returns the AsyncAPI 3.0 document of m as indented JSON. The
// same manifest always gives the same bytes. It fails if m is not valid
// or if two different messages would get one name.
func Document(m *manifest.Manifest, opts *Options) ([]byte, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.APIVersion == "" {
		o.APIVersion = "1.0.0"
	}
	c, err := newContract(m)
	if err != nil {
		return nil, err
	}
	schemes, query, headers := c.connect()
	var security []any
	for _, name := range sortedKeys(schemes) {
		security = append(security, ref("#/components/securitySchemes/"+name))
	}
	servers := map[string]any{
		"aws": withSecurity(map[string]any{
			"host": "{apiId}.execute-api.{region}.amazonaws.com", "pathname": "/{stage}", "protocol": "wss",
			"title":       "API Gateway",
			"description": "The app's WebSocket API in AWS, as infra/ deploys it.",
			"variables": map[string]any{
				"apiId":  map[string]any{"description": "The API Gateway API ID."},
				"region": map[string]any{"description": "The AWS region.", "default": "us-east-1"},
				"stage":  map[string]any{"description": "The stage name."},
			},
		}, security),
	}
	if o.LocalURL != "" {
		u, err := url.Parse(o.LocalURL)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return nil, fmt.Errorf("asyncapi: LocalURL %q: give a ws:// or wss:// URL", o.LocalURL)
		}
		local := map[string]any{"host": u.Host, "protocol": u.Scheme, "title": "mullet dev", "description": "The local emulator of mullet dev."}
		if u.Path != "" && u.Path != "/" {
			local["pathname"] = u.Path
		}
		servers["local"] = withSecurity(local, security)
	}
	channelMessages := map[string]any{}
	componentMessages := map[string]any{}
	componentSchemas := map[string]any{}
	for _, msg := range c.messages {
		cm := map[string]any{
			"name": msg.name, "title": msg.title, "contentType": "application/json",
			"payload": ref(schemaRoot(msg.name)),
		}
		if msg.description != "" {
			cm["summary"] = msg.description
		}
		if msg.correlated {
			cm["correlationId"] = map[string]any{
				"description": "Requests and their replies carry the same \"$rid\" (docs/protocol.md 7).",
				"location":    "$message.payload#/$rid",
			}
		}
		componentMessages[msg.name] = cm
		componentSchemas[msg.name] = msg.payload
		channelMessages[msg.name] = ref("#/components/messages/" + msg.name)
	}
	binding := map[string]any{"method": "GET", "bindingVersion": "0.1.0"}
	if query != nil {
		binding["query"] = query
	}
	if headers != nil {
		binding["headers"] = headers
	}
	channel := map[string]any{
		"address": "/",
		"title":   "WebSocket endpoint",
		"description": fmt.Sprintf("The app's one WebSocket endpoint. The upgrade request is API Gateway's $connect; "+
			"each text frame a client sends is routed by the route selection expression %s.", m.RouteSelectionExpression),
		"messages": channelMessages,
		"bindings": map[string]any{"ws": binding},
	}
	operations := map[string]any{}
	for _, op := range c.ops {
		o := map[string]any{
			"action": op.action, "channel": ref("#/channels/" + ChannelName),
			"summary": op.summary, "description": op.description,
			"messages": refs(op.messages),
		}
		if op.routeKey != "" {
			o["x-mullet-route"] = map[string]any{"key": op.routeKey, "selectionExpression": m.RouteSelectionExpression}
		}
		if len(op.replies) > 0 {
			o["reply"] = map[string]any{"channel": ref("#/channels/" + ChannelName), "messages": refs(op.replies)}
		}
		operations[op.id] = o
	}
	components := map[string]any{"messages": componentMessages, "schemas": componentSchemas}
	if len(schemes) > 0 {
		components["securitySchemes"] = schemes
	}
	doc := map[string]any{
		"asyncapi": Version,
		"info": map[string]any{
			"title": m.Name, "version": o.APIVersion,
			"description": fmt.Sprintf("The WebSocket API of the mullet app %s, generated from its declaration. Routes are selected by %s. "+
				"Control frames (a top-level \"mullet\" member) follow the mullet.v1 protocol (docs/protocol.md).", quote(m.Name), m.RouteSelectionExpression),
		},
		"defaultContentType": "application/json",
		"servers":            servers,
		"channels":           map[string]any{ChannelName: channel},
		"operations":         operations,
		"components":         components,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("asyncapi: %w", err)
	}
	return buf.Bytes(), nil
}

func ref(pointer string) map[string]any { return map[string]any{"$ref": pointer} }

func refs(names []string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = ref("#/channels/" + ChannelName + "/messages/" + n)
	}
	return out
}

func withSecurity(server map[string]any, security []any) map[string]any {
	if len(security) > 0 {
		server["security"] = security
	}
	return server
}

// connect describes $connect: the security schemes of its authorization,
// and the query parameters and headers of the upgrade (nil when none).
func (c *contract) connect() (schemes map[string]any, query, headers map[string]any) {
	schemes = map[string]any{}
	qProps, hProps := map[string]any{}, map[string]any{}
	var qReq, hReq []any
	m := c.m
	if m.Authorizer != nil {
		sources := m.Authorizer.IdentitySources
		if len(sources) == 0 {
			sources = []string{"route.request.header.Authorization"}
		}
		for _, src := range sources {
			desc := "Required by the app's Lambda authorizer (identity source " + src + "): an upgrade without it is refused with 401."
			if name, ok := strings.CutPrefix(src, "route.request.header."); ok {
				schemes["authorizer_"+schemeName(name)] = map[string]any{"type": "httpApiKey", "in": "header", "name": name, "description": desc}
				hProps[name] = map[string]any{"type": "string", "description": desc}
				hReq = append(hReq, name)
			} else if name, ok := strings.CutPrefix(src, "route.request.querystring."); ok {
				schemes["authorizer_"+schemeName(name)] = map[string]any{"type": "httpApiKey", "in": "query", "name": name, "description": desc}
				qProps[name] = map[string]any{"type": "string", "description": desc}
				qReq = append(qReq, name)
			}
		}
	}
	if a := m.ConnectAuth; a != nil {
		if a.IAM {
			desc := "AWS IAM (AuthorizationType AWS_IAM): the upgrade is signed with SigV4 by a principal allowed execute-api:Invoke on $connect, in headers (Authorization, X-Amz-Date, X-Amz-Security-Token) or as a presigned URL (X-Amz-* query parameters)."
			schemes["iam"] = map[string]any{"type": "http", "scheme": "AWS4-HMAC-SHA256", "description": desc}
			hProps["Authorization"] = map[string]any{"type": "string", "description": "The SigV4 signature, unless the URL is presigned."}
			hProps["X-Amz-Date"] = map[string]any{"type": "string"}
			hProps["X-Amz-Security-Token"] = map[string]any{"type": "string"}
			for _, q := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"} {
				qProps[q] = map[string]any{"type": "string", "description": "Of a presigned URL (SigV4 in the query string)."}
			}
		}
		if k := a.APIKeys; k != nil {
			var plans []string
			for _, p := range k.Plans {
				plans = append(plans, p.Name)
			}
			if k.KeySelectionExpression() == manifest.APIKeyFromHeader {
				desc := "An API key of one of the usage plans " + strings.Join(plans, ", ") + " (apiKeyRequired on $connect)."
				schemes["apiKey"] = map[string]any{"type": "httpApiKey", "in": "header", "name": "x-api-key", "description": desc}
				hProps["x-api-key"] = map[string]any{"type": "string", "description": desc}
				hReq = append(hReq, "x-api-key")
			}
		}
	}
	if ct := m.Continuity; ct != nil && ct.Sessions {
		secret := map[string]any{"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}
		qProps["mullet_session"] = map[string]any{"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$", "description": "The session to create or resume (docs/protocol.md 2.1)."}
		qProps["mullet_secret"] = withDescription(secret, "The current resume secret; absent when creating the session.")
		qProps["mullet_next"] = withDescription(secret, "base64url of the SHA-256 of the next resume secret.")
	}
	obj := func(props map[string]any, req []any) map[string]any {
		if len(props) == 0 {
			return nil
		}
		s := map[string]any{"type": "object", "properties": props}
		if len(req) > 0 {
			s["required"] = req
		}
		return s
	}
	return schemes, obj(qProps, qReq), obj(hProps, hReq)
}

func withDescription(s map[string]any, desc string) map[string]any {
	out := map[string]any{"description": desc}
	for k, v := range s {
		out[k] = v
	}
	return out
}

// schemeName keeps the characters a component name allows.
func schemeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
