package manifest_test

import (
	"strings"
	"testing"

	"github.com/mulletgo/mullet/manifest"
)

func TestModelName(t *testing.T) {
	for key, want := range map[string]string{
		"pair":       "PairModel",
		"chat/send":  "ChatSendModel",
		"$default":   "DefaultModel",
		"set-nick_2": "SetNick2Model",
	} {
		if got := manifest.ModelName(key); got != want {
			t.Errorf("ModelName(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"bad version", `{"version":9,"name":"a","routeSelectionExpression":"$request.body.action","routes":[],"state":{"ttlSeconds":1}}`, "version 9"},
		{"unknown field", `{"version":1,"name":"a","routeSelectionExpression":"$request.body.action","routes":[],"state":{"ttlSeconds":1},"extra":1}`, "unknown field"},
		{"dup route", `{"version":1,"name":"a","routeSelectionExpression":"$request.body.action","routes":[{"key":"x"},{"key":"x"}],"state":{"ttlSeconds":1}}`, "appears twice"},
		{"reserved", `{"version":1,"name":"a","routeSelectionExpression":"$request.body.action","routes":[{"key":"$foo"}],"state":{"ttlSeconds":1}}`, "reserved"},
		{"bad model", `{"version":1,"name":"a","routeSelectionExpression":"$request.body.action","routes":[{"key":"x","model":"x-y","schema":{}}],"state":{"ttlSeconds":1}}`, "alphanumeric"},
		{"no name", `{"version":1,"name":"","routeSelectionExpression":"$request.body.action","routes":[],"state":{"ttlSeconds":1}}`, "name is empty"},
		{"trailing", `{"version":1,"name":"a","routeSelectionExpression":"$request.body.action","routes":[],"state":{"ttlSeconds":1}} {}`, "trailing"},
		{"not json", `nope`, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.Decode([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	m := &manifest.Manifest{
		Version: manifest.Version, Name: "demo", RouteSelectionExpression: "$request.body.action",
		Routes: []manifest.Route{{Key: "b"}, {Key: "a", TwoWay: true, Model: "AModel", Schema: []byte(`{"type":"object"}`)}},
		State:  manifest.State{TTLSeconds: 60},
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := manifest.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Routes[0].Key != "a" || !got.Routes[0].TwoWay || string(got.Routes[0].Schema) != `{"type":"object"}` {
		t.Fatalf("round trip lost data: %+v", got.Routes)
	}
	if m.Routes[0].Key != "b" {
		t.Fatal("Marshal mutated the caller's manifest")
	}
}

func TestConnectAuth(t *testing.T) {
	base := func(auth string, authorizer bool) string {
		a := ""
		if authorizer {
			a = `,"authorizer":{}`
		}
		return `{"version":1,"name":"a","routeSelectionExpression":"$request.body.action","routes":[{"key":"$connect"}],"state":{"ttlSeconds":1},"connectAuth":` + auth + a + `}`
	}
	ok := []struct{ name, json string }{
		{"iam", base(`{"iam":true}`, false)},
		{"keys", base(`{"apiKeys":{"plans":[{"name":"free","throttle":{"ratePerSecond":1,"burst":2},"quota":{"limit":100,"period":"DAY"}},{"name":"paid"}]}}`, false)},
		{"iam and keys", base(`{"iam":true,"apiKeys":{"plans":[{"name":"free"}]}}`, false)},
		{"keys from the authorizer", base(`{"apiKeys":{"selectionExpression":"$context.authorizer.usageIdentifierKey","plans":[{"name":"p"}]}}`, true)},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			m, err := manifest.Decode([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			data, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			again, err := manifest.Decode(data)
			if err != nil || again.ConnectAuth == nil {
				t.Fatalf("round trip: %v %+v", err, again)
			}
		})
	}
	bad := []struct{ name, json, want string }{
		{"iam with an authorizer", base(`{"iam":true}`, true), "exclude each other"},
		{"no plans", base(`{"apiKeys":{"plans":[]}}`, false), "at least one usage plan"},
		{"bad expression", base(`{"apiKeys":{"selectionExpression":"$request.querystring.key","plans":[{"name":"p"}]}}`, false), "selectionExpression"},
		{"authorizer key without authorizer", base(`{"apiKeys":{"selectionExpression":"$context.authorizer.usageIdentifierKey","plans":[{"name":"p"}]}}`, false), "needs an authorizer"},
		{"duplicate plan", base(`{"apiKeys":{"plans":[{"name":"p"},{"name":"p"}]}}`, false), "appears twice"},
		{"bad plan name", base(`{"apiKeys":{"plans":[{"name":"a b"}]}}`, false), "letters, digits"},
		{"zero throttle", base(`{"apiKeys":{"plans":[{"name":"p","throttle":{"ratePerSecond":0,"burst":1}}]}}`, false), "must be positive"},
		{"bad period", base(`{"apiKeys":{"plans":[{"name":"p","quota":{"limit":1,"period":"HOUR"}}]}}`, false), "DAY, WEEK or MONTH"},
		{"zero quota", base(`{"apiKeys":{"plans":[{"name":"p","quota":{"limit":0,"period":"DAY"}}]}}`, false), "quota limit"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.Decode([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestOutboundMessages(t *testing.T) {
	said := manifest.Message{Name: "Said", Schema: []byte(`{"type":"object","properties":{"text":{"type":"string"}}}`)}
	base := func() *manifest.Manifest {
		return &manifest.Manifest{
			Version: manifest.Version, Name: "demo", RouteSelectionExpression: "$request.body.action",
			Routes: []manifest.Route{{Key: "say", Replies: &said}},
			State:  manifest.State{TTLSeconds: 60},
			Pushes: []manifest.Push{{Group: "room:", Message: said}, {Group: "", Message: manifest.Message{Name: "Notice", Schema: []byte(`{"type":"string"}`)}}},
		}
	}
	data, err := base().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := base().Marshal()
	if string(data) != string(again) {
		t.Fatal("Marshal is not deterministic")
	}
	got, err := manifest.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := got.Route("say"); r.Replies == nil || r.Replies.Name != "Said" || string(r.Replies.Schema) != string(said.Schema) {
		t.Fatalf("route replies lost in the round trip: %+v", r.Replies)
	}
	if len(got.Pushes) != 2 || got.Pushes[0].Group != "" || got.Pushes[1].Group != "room:" {
		t.Fatalf("pushes not sorted by group prefix: %+v", got.Pushes)
	}
	if msg, ok := got.PushFor("room:42"); !ok || msg.Name != "Said" {
		t.Fatalf("PushFor(room:42) = %v, %v; want Said (longest prefix)", msg.Name, ok)
	}
	if msg, ok := got.PushFor("lobby"); !ok || msg.Name != "Notice" {
		t.Fatalf("PushFor(lobby) = %v, %v; want Notice", msg.Name, ok)
	}
	redone, _ := got.Marshal()
	if string(redone) != string(data) {
		t.Fatalf("round trip changed the encoding:\n%s\n%s", data, redone)
	}

	for name, mutate := range map[string]func(m *manifest.Manifest){
		"bad name":          func(m *manifest.Manifest) { m.Routes[0].Replies = &manifest.Message{Name: "9x", Schema: said.Schema} },
		"schema not object": func(m *manifest.Manifest) { m.Pushes[0].Message.Schema = []byte(`[1]`) },
		"two schemas, one name": func(m *manifest.Manifest) {
			m.Pushes[0].Message = manifest.Message{Name: "Said", Schema: []byte(`{"type":"string"}`)}
		},
		"duplicate prefix": func(m *manifest.Manifest) { m.Pushes[1].Group = "room:" },
		"reserved prefix":  func(m *manifest.Manifest) { m.Pushes[0].Group = "$session" },
	} {
		t.Run(name, func(t *testing.T) {
			m := base()
			mutate(m)
			if err := m.Validate(); err == nil {
				t.Fatal("Validate accepted it")
			}
		})
	}
}
