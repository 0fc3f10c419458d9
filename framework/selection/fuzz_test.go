package selection_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/framework/selection"
)

// FuzzParse parses arbitrary route selection expressions. Parse never
// panics; an expression it accepts prints as written, parses again, reads
// at least one field, and evaluates on a frame built from its own paths
// exactly as Select does on the decoded frame.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"$request.body.action", "$request.body.a.b.c", "${request.body.service}/${request.body.action}",
		"v1-${request.body.a}", "${request.body.a}${request.body.a}", "$request.header.x", "${request.body.x",
		"a$b${request.body.x}", "$request.body..x", "hello", "", "${}", "${request.body.}", "$request.body.é",
	} {
		f.Add(s, `{"action":"x"}`)
	}
	f.Fuzz(func(t *testing.T, expr, body string) {
		e, err := selection.Parse(expr)
		if err != nil {
			if e != nil {
				t.Fatalf("Parse(%q) returned an expression and an error", expr)
			}
			if !strings.HasPrefix(err.Error(), "selection: ") {
				t.Fatalf("Parse(%q): error %q does not name the package", expr, err)
			}
			return
		}
		if e.String() != expr {
			t.Fatalf("String() = %q, want %q", e.String(), expr)
		}
		again, err := selection.Parse(e.String())
		if err != nil || again.String() != expr {
			t.Fatalf("re-parse of %q: %v", expr, err)
		}
		paths := e.Paths()
		if len(paths) == 0 || len(e.TopLevelFields()) == 0 {
			t.Fatalf("%q reads no field", expr)
		}
		// A frame holding a value at every path the expression reads.
		doc := map[string]any{}
		for i, p := range paths {
			m := doc
			for _, field := range p[:len(p)-1] {
				next, ok := m[field].(map[string]any)
				if !ok {
					next = map[string]any{}
					m[field] = next
				}
				m = next
			}
			if _, ok := m[p[len(p)-1]].(map[string]any); !ok {
				m[p[len(p)-1]] = "v" + string(rune('0'+i%10))
			}
		}
		frame, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, e, frame)
		compare(t, e, []byte(body))
	})
}

// compare checks SelectBody on raw bytes against Select on the decoded
// object.
func compare(t *testing.T, e *selection.Expression, body []byte) {
	t.Helper()
	got, err := e.SelectBody(body)
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if !json.Valid(body) || dec.Decode(&doc) != nil || doc == nil {
		if err == nil {
			t.Fatalf("%s: %q is not a JSON object but selected %q", e, body, got)
		}
		if !errors.Is(err, selection.ErrNoMatch) {
			t.Fatalf("%s: %q: error %v does not match ErrNoMatch", e, body, err)
		}
		return
	}
	want, wantErr := e.Select(doc)
	if (err == nil) != (wantErr == nil) || got != want {
		t.Fatalf("%s on %s: SelectBody = %q, %v; Select = %q, %v", e, body, got, err, want, wantErr)
	}
}
