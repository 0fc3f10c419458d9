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
