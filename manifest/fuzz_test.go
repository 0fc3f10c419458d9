package manifest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/framework/selection"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/schema"
)

// FuzzDecode decodes arbitrary bytes as a manifest. Decode never panics and
// errors name the package; a manifest it accepts is valid, survives
// Marshal and Decode unchanged (once normalized), and its route selection
// expression and schemas can be compiled (or fail with an error, as the
// emulator and infra/ report them), never panic.
func FuzzDecode(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("..", "framework", "testdata", "manifest.golden.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	for _, s := range []string{
		`{}`, `null`, `[]`, `{"version":1}`, `{"version":2,"name":"x","routeSelectionExpression":"$request.body.action","routes":[]}`,
		`{"version":1,"name":"x","routeSelectionExpression":"$request.body.action","routes":[{"key":"a"},{"key":"a"}],"state":{"ttlSeconds":1}}`,
		`{"version":1,"name":"x","routeSelectionExpression":"$request.body.action","routes":[{"key":"$foo"}],"state":{"ttlSeconds":1}}`,
		`{"version":1,"name":"x","routeSelectionExpression":"$request.body.action","routes":[{"key":"a","model":"A-1","schema":{}}],"state":{"ttlSeconds":1}}`,
		`{"version":1,"name":"x","routeSelectionExpression":"$request.body.action","routes":[{"key":"a","model":"AModel","schema":{"type":"object","pattern":"["}}],"state":{"ttlSeconds":1}}`,
		`{"version":1,"name":"x","routeSelectionExpression":"${request.body.a}/${request.body.b}","routes":[{"key":"a/b"}],"state":{"ttlSeconds":1},"barriers":[{"name":"b","size":1,"ttlSeconds":1}]}`,
		`{"version":1,"name":"x","routeSelectionExpression":"$request.body.action","routes":[],"state":{"ttlSeconds":1},"extra":true}`,
		`{"version":1,"name":"x","routeSelectionExpression":"$request.body.action","routes":[],"state":{"ttlSeconds":1}} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := manifest.Decode(data)
		if err != nil {
			if m != nil || !strings.HasPrefix(err.Error(), "manifest: ") {
				t.Fatalf("Decode(%q) = %v, %v", data, m, err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid manifest: %v", err)
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := manifest.Decode(out)
		if err != nil {
			t.Fatalf("the manifest Marshal wrote does not decode: %v\n%s", err, out)
		}
		m.Normalize()
		for _, x := range []*manifest.Manifest{m, again} {
			// Empty and absent lists are the same.
			if len(x.Routes) == 0 {
				x.Routes = nil
			}
			if len(x.Barriers) == 0 {
				x.Barriers = nil
			}
			// Marshal escapes <, > and & in schemas (\u003c); the JSON
			// value is the same.
			for i := range x.Routes {
				if len(x.Routes[i].Schema) > 0 {
					x.Routes[i].Schema = canonicalJSON(t, x.Routes[i].Schema)
				}
			}
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip changed the manifest:\n%+v\n%+v", m, again)
		}
		_, _ = selection.Parse(m.RouteSelectionExpression)
		for _, r := range m.Routes {
			if len(r.Schema) > 0 {
				_, _ = schema.Parse(r.Schema)
			}
			if _, ok := m.Route(r.Key); !ok {
				t.Fatalf("Route(%q) does not find a listed route", r.Key)
			}
		}
	})
}

func canonicalJSON(t *testing.T, raw []byte) []byte {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("schema %q: %v", raw, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
