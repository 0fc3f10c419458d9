package asyncapi

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/mulletgo/mullet/framework/selection"
	"github.com/mulletgo/mullet/manifest"
)

// message is one kind of frame on the WebSocket, with its payload schema
// in draft-07 form.
type message struct {
	name        string
	title       string
	description string
	inbound     bool // sent by clients
	correlated  bool // carries $rid (docs/protocol.md 7)
	payload     map[string]any
}

// operation is one operation of the document, from the application's
// point of view: it receives what clients send and sends the rest.
type operation struct {
	id          string
	action      string // "receive" or "send"
	summary     string
	description string
	routeKey    string // the route it serves ("" for control frames and pushes)
	messages    []string
	replies     []string
}

// contract is what Document and TypeScript describe: every message and
// operation of an app.
type contract struct {
	m        *manifest.Manifest
	field    string // the top-level member the route selection reads, if it is one
	messages []*message
	byName   map[string]*message
	ops      []operation
	routes   []routeMessages
}

// routeMessages names the messages of one route, for TypeScript's Routes.
type routeMessages struct {
	key     string
	request string
	replies []string
}

// schemaRoot is where a message's payload schema sits in the document.
func schemaRoot(name string) string { return "#/components/schemas/" + name }

func (c *contract) add(msg *message) error {
	if prev, ok := c.byName[msg.name]; ok {
		a, _ := json.Marshal(prev.payload)
		b, _ := json.Marshal(msg.payload)
		if string(a) != string(b) || prev.inbound != msg.inbound {
			return fmt.Errorf("asyncapi: two different messages are named %q; rename the Go type of one of them", msg.name)
		}
		return nil
	}
	if c.byName == nil {
		c.byName = map[string]*message{}
	}
	c.byName[msg.name] = msg
	c.messages = append(c.messages, msg)
	return nil
}

// baseName is the CamelCase name of a route key or group prefix.
func baseName(key string) string { return strings.TrimSuffix(manifest.ModelName(key), "Model") }

// newContract collects the messages and operations of m.
func newContract(m *manifest.Manifest) (*contract, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := &contract{m: m}
	if rse, err := selection.Parse(m.RouteSelectionExpression); err == nil {
		if p := rse.Paths(); len(p) == 1 && len(p[0]) == 1 && rse.String() == "$request.body."+p[0][0] {
			c.field = p[0][0]
		}
	}
	routes := append([]manifest.Route(nil), m.Routes...)
	sort.Slice(routes, func(i, j int) bool { return routes[i].Key < routes[j].Key })
	if err := c.add(errorFrame()); err != nil {
		return nil, err
	}
	for _, r := range routes {
		if r.Key == manifest.RouteConnect || r.Key == manifest.RouteDisconnect {
			continue
		}
		if err := c.addRoute(r); err != nil {
			return nil, err
		}
	}
	for _, p := range m.Pushes {
		msg, err := outboundMessage(p.Message, fmt.Sprintf("Broadcast to the groups whose names start with %q (framework.Publishes).", p.Group))
		if err != nil {
			return nil, err
		}
		if err := c.add(msg); err != nil {
			return nil, err
		}
		group := baseName(p.Group)
		if group == "" {
			group = "AnyGroup"
		}
		desc := fmt.Sprintf("Frames broadcast to the members of the groups whose names start with %q.", p.Group)
		if c.durable(p.Group) {
			desc += " The group is durable: each frame arrives as the data of a msg control frame (docs/protocol.md 5.2)."
		}
		c.ops = append(c.ops, operation{id: "broadcast" + group, action: "send", summary: "Broadcast to groups " + quote(p.Group), description: desc, messages: []string{p.Message.Name}})
	}
	if err := c.addContinuity(); err != nil {
		return nil, err
	}
	return c, nil
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// durable reports whether the groups starting with prefix are durable.
func (c *contract) durable(prefix string) bool {
	if c.m.Continuity == nil {
		return false
	}
	best := -1
	for i, g := range c.m.Continuity.Groups {
		if strings.HasPrefix(prefix, g.Prefix) && (best < 0 || len(g.Prefix) > len(c.m.Continuity.Groups[best].Prefix)) {
			best = i
		}
	}
	return best >= 0 && c.m.Continuity.Groups[best].Durable
}

func (c *contract) addRoute(r manifest.Route) error {
	base := baseName(r.Key)
	name := base + "Request"
	payload := map[string]any{}
	if len(r.Schema) > 0 {
		var err error
		if payload, err = Draft07(r.Schema, schemaRoot(name)); err != nil {
			return fmt.Errorf("asyncapi: route %q: %w", r.Key, err)
		}
		if c.field != "" && r.Key != manifest.RouteDefault {
			props, _ := payload["properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
				payload["properties"] = props
			}
			props[c.field] = map[string]any{"type": "string", "const": r.Key}
			req, _ := payload["required"].([]any)
			if !containsString(req, c.field) {
				payload["required"] = append([]any{c.field}, req...)
			}
		}
	}
	desc := fmt.Sprintf("A frame of route %s, selected by %s.", quote(r.Key), c.m.RouteSelectionExpression)
	if r.Key == manifest.RouteDefault {
		desc = "A frame that selects no other route ($default): " + c.m.RouteSelectionExpression + " gives no key, or one the app has no route for."
	}
	if len(r.Schema) == 0 {
		desc += " No schema applies: any frame."
	}
	if err := c.add(&message{name: name, title: "Route " + r.Key, description: desc, inbound: true, correlated: true, payload: payload}); err != nil {
		return err
	}
	var replies []string
	if r.Replies != nil {
		reply, err := outboundMessage(*r.Replies, fmt.Sprintf("The reply of route %s (RouteOptions.Replies).", quote(r.Key)))
		if err != nil {
			return err
		}
		if err := c.add(reply); err != nil {
			return err
		}
		replies = append(replies, r.Replies.Name)
	}
	replies = append(replies, "ErrorFrame")
	how := "one-way: a reply is posted through @connections"
	if r.TwoWay {
		how = "two-way: the reply is the route response"
	}
	c.ops = append(c.ops, operation{
		id: "receive" + base, action: "receive", routeKey: r.Key,
		summary:     "Route " + r.Key,
		description: fmt.Sprintf("Clients send frames of route %s (%s). A frame with \"$rid\" gets its reply tagged with the same \"$rid\" (docs/protocol.md 7).", quote(r.Key), how),
		messages:    []string{name}, replies: replies,
	})
	c.routes = append(c.routes, routeMessages{key: r.Key, request: name, replies: replies})
	return nil
}

func containsString(l []any, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func outboundMessage(msg manifest.Message, desc string) (*message, error) {
	payload, err := Draft07(msg.Schema, schemaRoot(msg.Name))
	if err != nil {
		return nil, fmt.Errorf("asyncapi: message %q: %w", msg.Name, err)
	}
	return &message{name: msg.Name, title: msg.Name, description: desc, payload: payload}, nil
}

// The JSON Schemas of the continuity protocol's frames (docs/protocol.md).
var (
	ridSchema      = map[string]any{"type": "string", "minLength": 1, "maxLength": 64}
	positionSchema = map[string]any{
		"type": "object", "required": []any{"epoch", "offset"},
		"properties": map[string]any{"epoch": map[string]any{"type": "string"}, "offset": map[string]any{"type": "integer", "minimum": 0}},
	}
)

func control(typ string, required []string, props map[string]any) map[string]any {
	p := map[string]any{"mullet": map[string]any{"type": "string", "const": typ}}
	for k, v := range props {
		p[k] = v
	}
	req := []any{"mullet"}
	for _, r := range required {
		req = append(req, r)
	}
	return map[string]any{"type": "object", "required": req, "properties": p}
}

func errorFrame() *message {
	return &message{
		name: "ErrorFrame", title: "Error frame", correlated: true,
		description: "API Gateway's error frame: a frame refused by its route's model, a handler's error, or \"Internal server error\". Tagged with \"$rid\" when the framework produced it for a tagged request.",
		payload: map[string]any{"type": "object", "required": []any{"message"}, "additionalProperties": false, "properties": map[string]any{
			"message": map[string]any{"type": "string"}, "connectionId": map[string]any{"type": "string"},
			"requestId": map[string]any{"type": "string"}, "$rid": ridSchema,
		}},
	}
}

func (c *contract) addContinuity() error {
	ct := c.m.Continuity
	if ct == nil {
		return nil
	}
	durable, presence := ct.Sessions, false
	for _, g := range ct.Groups {
		durable = durable || g.Durable
		presence = presence || g.Presence
	}
	positions := map[string]any{"type": "object", "additionalProperties": positionSchema}
	if ct.Sessions {
		controlError := &message{name: "ControlError", title: "Control error", correlated: true,
			description: "The answer to a control frame the server could not serve (docs/protocol.md 8).",
			payload: control("error", []string{"code", "message"}, map[string]any{
				"code":    map[string]any{"type": "string", "enum": []any{"bad_frame", "no_session", "unknown", "internal"}},
				"message": map[string]any{"type": "string"}, "$rid": ridSchema,
			})}
		if err := c.addAll(
			&message{name: "Sync", title: "sync", inbound: true, correlated: true,
				description: "The resume handshake: the positions of the last messages the client delivered, per durable group and $session (docs/protocol.md 2.3).",
				payload:     control("sync", nil, map[string]any{"positions": positions, "$rid": ridSchema})},
			&message{name: "Synced", title: "synced", correlated: true,
				description: "Ends the replay that answers sync: the position the replay of each group started from; more is true when the replay was cut to a page and the client should sync again from its new positions (docs/protocol.md 2.3).",
				payload: control("synced", []string{"session", "groups"}, map[string]any{"session": map[string]any{"type": "string"}, "groups": positions,
					"more": map[string]any{"type": "boolean"}, "$rid": ridSchema})},
			controlError); err != nil {
			return err
		}
		c.ops = append(c.ops, operation{id: "receiveSync", action: "receive", summary: "Resume a session",
			description: "A session client sends sync after each upgrade; the server replays what it missed, then answers synced.",
			messages:    []string{"Sync"}, replies: []string{"Synced", "ControlError"}})
	}
	if durable {
		if err := c.addAll(
			&message{name: "Msg", title: "msg", description: "A message of a durable group's stream, or of the session's own ($session), with its position (docs/protocol.md 5.2).",
				payload: control("msg", []string{"group", "epoch", "offset"}, map[string]any{
					"group": map[string]any{"type": "string"}, "epoch": map[string]any{"type": "string"}, "offset": map[string]any{"type": "integer", "minimum": 1},
					"data": map[string]any{}, "text": map[string]any{"type": "string"},
				})},
			&message{name: "Discontinuity", title: "discontinuity", description: "Messages were lost for this client: continue from the given position (docs/protocol.md 5.3).",
				payload: control("discontinuity", []string{"group", "epoch", "offset", "from"}, map[string]any{
					"group": map[string]any{"type": "string"}, "epoch": map[string]any{"type": "string"}, "offset": map[string]any{"type": "integer", "minimum": 0}, "from": positionSchema,
				})}); err != nil {
			return err
		}
		c.ops = append(c.ops,
			operation{id: "sendMsg", action: "send", summary: "Durable messages", description: "Messages of durable groups and sessions, live or replayed; clients order and de-duplicate them by offset (docs/protocol.md 5.5).", messages: []string{"Msg"}},
			operation{id: "sendDiscontinuity", action: "send", summary: "Lost messages", description: "Tells a resuming client that its position is no longer covered by the window.", messages: []string{"Discontinuity"}})
	}
	if presence {
		if err := c.add(&message{name: "Presence", title: "presence",
			description: "A session joined or left a group with presence (docs/protocol.md 6).",
			payload: control("presence", []string{"group", "event", "session"}, map[string]any{
				"group": map[string]any{"type": "string"}, "event": map[string]any{"type": "string", "enum": []any{"join", "leave"}},
				"session": map[string]any{"type": "string"}, "data": map[string]any{},
			})}); err != nil {
			return err
		}
		c.ops = append(c.ops, operation{id: "sendPresence", action: "send", summary: "Presence events", description: "Joins and leaves of the members of a group with presence, to the members that asked for them.", messages: []string{"Presence"}})
	}
	return nil
}

func (c *contract) addAll(msgs ...*message) error {
	for _, m := range msgs {
		if err := c.add(m); err != nil {
			return err
		}
	}
	return nil
}
