package selection_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/framework/selection"
)

func TestSelectBody(t *testing.T) {
	tests := []struct {
		name, expr, body, want string
		noMatch                bool
	}{
		{name: "default action", expr: "$request.body.action", body: `{"action":"join","room":"a"}`, want: "join"},
		{name: "nested", expr: "$request.body.meta.op", body: `{"meta":{"op":"x"}}`, want: "x"},
		{name: "template", expr: "${request.body.service}/${request.body.action}", body: `{"service":"chat","action":"send"}`, want: "chat/send"},
		{name: "template literal prefix", expr: "v1:${request.body.action}", body: `{"action":"send"}`, want: "v1:send"},
		{name: "number value", expr: "$request.body.action", body: `{"action":42}`, want: "42"},
		{name: "bool value", expr: "$request.body.action", body: `{"action":true}`, want: "true"},
		{name: "missing field", expr: "$request.body.action", body: `{"type":"join"}`, noMatch: true},
		{name: "null value", expr: "$request.body.action", body: `{"action":null}`, noMatch: true},
		{name: "object value", expr: "$request.body.action", body: `{"action":{"a":1}}`, noMatch: true},
		{name: "not json", expr: "$request.body.action", body: `hello`, noMatch: true},
		{name: "json array", expr: "$request.body.action", body: `[1,2]`, noMatch: true},
		{name: "truncated json", expr: "$request.body.action", body: `{"action":"jo`, noMatch: true},
		{name: "trailing data", expr: "$request.body.action", body: `{"action":"a"} {}`, noMatch: true},
		{name: "empty", expr: "$request.body.action", body: ``, noMatch: true},
		{name: "template missing part", expr: "${request.body.service}/${request.body.action}", body: `{"action":"send"}`, noMatch: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := selection.MustParse(tt.expr)
			got, err := e.SelectBody([]byte(tt.body))
			if tt.noMatch {
				if !errors.Is(err, selection.ErrNoMatch) {
					t.Fatalf("SelectBody(%q) = %q, %v; want ErrNoMatch", tt.body, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("SelectBody(%q) = %q, %v; want %q", tt.body, got, err, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, expr := range []string{
		"",
		"action",
		"$request.header.x",
		"$request.body.",
		"$request.body.a..b",
		"${request.body.action",
		"${request.querystring.a}",
		"prefix$/${request.body.a}",
		"literal only",
	} {
		t.Run(expr, func(t *testing.T) {
			if _, err := selection.Parse(expr); err == nil {
				t.Fatalf("Parse(%q) succeeded; want error", expr)
			}
		})
	}
}

func TestTopLevelFields(t *testing.T) {
	e := selection.MustParse("${request.body.service}/${request.body.action}/${request.body.service}")
	got := e.TopLevelFields()
	if len(got) != 2 || got[0] != "service" || got[1] != "action" {
		t.Fatalf("TopLevelFields = %v", got)
	}
}

func BenchmarkSelectBody(b *testing.B) {
	e := selection.MustParse(selection.DefaultExpression)
	body := []byte(`{"action":"echo","text":"hello world"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.SelectBody(body); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSelectBodyMatchesDecoding(t *testing.T) {
	e := selection.MustParse("$request.body.a.b")
	for _, body := range []string{
		`{"a":{"b":"x"}}`, `{"z":[1,{"b":"no"}],"a":{"q":"}","b":"y"}}`, `{"a":{"b":"x"},"a":{"b":"last"}}`,
		`{"\u0061":{"b":"esc"}}`, `{"a":{"b":"q\"uote"}}`, ` { "a" : { "b" : -1.5e3 } } `, `{"a":{"b":[1]}}`,
		`{"a":"str"}`, `{"a":{}}`, `{"a":{"b":null}}`,
	} {
		var doc map[string]any
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		want, wantErr := e.Select(doc)
		got, err := e.SelectBody([]byte(body))
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("%s: SelectBody = %q, %v; decoding gives %q, %v", body, got, err, want, wantErr)
		}
	}
}

func FuzzSelectBody(f *testing.F) {
	for _, s := range []string{`{"action":"x"}`, `{"a":{"b":1}}`, `[]`, `{"action":"\u0041"}`, `nope`} {
		f.Add(s)
	}
	e := selection.MustParse("$request.body.action")
	f.Fuzz(func(t *testing.T, body string) {
		got, err := e.SelectBody([]byte(body))
		var doc map[string]any
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		if json.Valid([]byte(body)) && dec.Decode(&doc) == nil && doc != nil {
			want, wantErr := e.Select(doc)
			if (err == nil) != (wantErr == nil) || got != want {
				t.Fatalf("%q: SelectBody = %q, %v; Select = %q, %v", body, got, err, want, wantErr)
			}
		} else if err == nil {
			t.Fatalf("%q is not a JSON object but selected %q", body, got)
		}
	})
}
