package framework

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/schema"
)

// outbound is a declared type of frames the app sends: a route's replies
// (RouteOptions.Replies) or a group's broadcasts (Publishes).
type outbound struct {
	name   string
	schema *schema.Schema
}

func (o *outbound) manifest() *manifest.Message {
	if o == nil {
		return nil
	}
	return &manifest.Message{Name: o.name, Schema: o.schema.JSON()}
}

// pushDecl is one Publishes declaration.
type pushDecl struct {
	prefix string
	msg    *outbound
}

// declareOutbound derives the schema of the type of v (v may be a value,
// a nil pointer of the type, or a reflect.Type). fallback names the
// message when the type has no name of its own.
func declareOutbound(t reflect.Type, fallback string) (*outbound, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s, err := schema.Reflect(t, nil)
	if err != nil {
		return nil, err
	}
	name := messageName(t.Name())
	if name == "" {
		name = fallback
	}
	return &outbound{name: name, schema: s}, nil
}

// messageName keeps the letters, digits and '_' of a Go type name
// ("Page[main.Item]" -> "Pagemain_Item" is avoided: generic arguments are
// dropped), so that it can name a type in generated code.
func messageName(goName string) string {
	goName, _, _ = strings.Cut(goName, "[")
	var b strings.Builder
	for _, r := range goName {
		if r < 128 && (r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" || s[0] < 'A' || s[0] > 'z' || (s[0] > 'Z' && s[0] < 'a') {
		return ""
	}
	return s
}

// repliesOf derives the declared reply type of a route from
// RouteOptions.Replies.
func repliesOf(key string, v any) *outbound {
	if v == nil {
		return nil
	}
	t, ok := v.(reflect.Type)
	if !ok {
		t = reflect.TypeOf(v)
	}
	fallback := strings.TrimSuffix(manifest.ModelName(key), "Model") + "Reply"
	o, err := declareOutbound(t, fallback)
	if err != nil {
		panic(fmt.Sprintf("framework: route %q: cannot derive a schema from RouteOptions.Replies (%s): %v", key, t, err))
	}
	return o
}

// Publishes declares that what the app broadcasts (BroadcastJSON,
// BroadcastText, Publisher) to the groups whose names start with prefix
// ("" for every group) is JSON of type T. The longest matching prefix
// applies. The declaration gives the frames a schema in the manifest (and
// so in the AsyncAPI document and the TypeScript types generated from it);
// with Runtime.CheckOutbound, as in development, a broadcast that does not
// match it is refused with an *OutboundError. For a durable group T is the
// type of the msg frame's data (docs/protocol.md 5.2).
//
//	framework.Publishes[Said](app, "room:")
//
// It panics on a prefix declared twice, a prefix starting with '$', or a
// type that has no schema.
func Publishes[T, S any](a *App[S], prefix string) {
	if strings.HasPrefix(prefix, "$") {
		panic(fmt.Sprintf("framework: Publishes(%q): group names starting with '$' are reserved", prefix))
	}
	for _, p := range a.pushes {
		if p.prefix == prefix {
			panic(fmt.Sprintf("framework: Publishes(%q) is declared twice in app %q", prefix, a.name))
		}
	}
	o, err := declareOutbound(reflect.TypeFor[T](), "")
	if err != nil {
		panic(fmt.Sprintf("framework: Publishes(%q): cannot derive a schema from %s: %v", prefix, typeName[T](), err))
	}
	if o.name == "" {
		panic(fmt.Sprintf("framework: Publishes(%q): the type %s has no name; declare a named type", prefix, typeName[T]()))
	}
	a.pushes = append(a.pushes, pushDecl{prefix: prefix, msg: o})
}

// pushFor returns the declared type of broadcasts to group, nil if none.
func pushFor(pushes []pushDecl, group string) (string, *outbound) {
	best := -1
	for i, p := range pushes {
		if strings.HasPrefix(group, p.prefix) && (best < 0 || len(p.prefix) > len(pushes[best].prefix)) {
			best = i
		}
	}
	if best < 0 {
		return "", nil
	}
	return pushes[best].prefix, pushes[best].msg
}

// OutboundError reports a frame the app sent that does not match its
// declared type. Only a Runtime with CheckOutbound set checks, and the
// frame is not sent.
type OutboundError struct {
	// Route is the route whose reply it was ("" for a broadcast).
	Route string
	// Group is the group it was broadcast to ("" for a reply).
	Group string
	// Type is the declared message name.
	Type string
	// Err is the schema's complaint.
	Err error
}

func (e *OutboundError) Error() string {
	if e.Group != "" || e.Route == "" {
		return fmt.Sprintf("framework: broadcast to group %q does not match its declared type %s (framework.Publishes): %v", e.Group, e.Type, e.Err)
	}
	return fmt.Sprintf("framework: reply of route %q does not match its declared type %s (RouteOptions.Replies): %v", e.Route, e.Type, e.Err)
}

func (e *OutboundError) Unwrap() error { return e.Err }

// checkReply checks a reply of the invocation's route against its declared
// type, when the runtime checks outbound frames.
func (inv *Invocation) checkReply(data []byte) error {
	if !inv.rt.checkOutbound || inv.replies == nil {
		return nil
	}
	if err := inv.replies.schema.ValidateJSON(data); err != nil {
		e := &OutboundError{Route: inv.route, Type: inv.replies.name, Err: err}
		inv.Logger().Error("outbound frame does not match its declared type", "error", e)
		return e
	}
	return nil
}

// checkPush checks a broadcast against its group's declared type, when the
// runtime checks outbound frames.
func (rt *boundRuntime) checkPush(group string, data []byte) error {
	if !rt.checkOutbound {
		return nil
	}
	_, o := pushFor(rt.pushes, group)
	if o == nil {
		return nil
	}
	if err := o.schema.ValidateJSON(data); err != nil {
		e := &OutboundError{Group: group, Type: o.name, Err: err}
		rt.logger.Error("outbound frame does not match its declared type", "group", group, "error", e)
		return e
	}
	return nil
}
