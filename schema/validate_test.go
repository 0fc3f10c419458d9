package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

type vAddress struct {
	City string `json:"city" schema:"minLength=1"`
	Zip  string `json:"zip" schema:"pattern=^[0-9]{5}$"`
}

type vItem struct {
	Name string `json:"name" schema:"maxLength=8"`
	Qty  int    `json:"qty" schema:"minimum=1,maximum=99"`
}

type vMsg struct {
	PairingName string            `json:"pairing_name" schema:"minLength=1,maxLength=64,pattern=^[a-z][a-z0-9-]*$"`
	Kind        string            `json:"kind" schema:"enum=user|admin"`
	Level       int               `json:"level,omitempty" schema:"enum=1|2|3"`
	Ratio       float64           `json:"ratio,omitempty" schema:"minimum=0,exclusiveMinimum,maximum=1,exclusiveMaximum"`
	Count       uint8             `json:"count,omitempty" schema:"maximum=10"`
	Address     *vAddress         `json:"address,omitempty"`
	Items       []vItem           `json:"items,omitempty" schema:"maxItems=3"`
	Tags        []string          `json:"tags,omitempty" schema:"minItems=1,uniqueItems"`
	When        time.Time         `json:"when,omitzero"`
	Labels      map[string]string `json:"labels,omitempty"`
	Data        json.RawMessage   `json:"data,omitempty"`
}

// checkBoth validates doc with the fast validator and with the jsonschema
// library and requires the same outcome.
func checkBoth(t *testing.T, s *Schema, doc []byte) error {
	t.Helper()
	v, err := decode(doc)
	if err != nil {
		t.Fatalf("test document %s: %v", doc, err)
	}
	fast := s.ValidateJSON(doc)
	lib := s.validateLib(v)
	if fmt.Sprint(fast) != fmt.Sprint(lib) {
		t.Errorf("fast validator and library disagree on %s:\n fast: %v\n lib:  %v", doc, fast, lib)
	}
	return fast
}

func TestValidationErrors(t *testing.T) {
	s := MustFor[vMsg](nil)
	if s.fast == nil {
		t.Fatal("schema not covered by the fast validator")
	}
	long := strings.Repeat("a", 70)
	tests := []struct {
		name, doc              string
		path, keyword, message string
	}{
		{"valid", `{"pairing_name":"abc","kind":"user"}`, "", "", ""},
		{"valid full", `{"pairing_name":"abc-1","kind":"admin","level":2.0,"ratio":0.5,"count":10,"address":{"city":"X","zip":"12345"},"items":[{"name":"a","qty":1}],"tags":["a","b"],"when":"2024-02-29T12:00:00Z","labels":{"k":"v"},"data":[1,{"x":null}]}`, "", "", ""},
		{"wrong type", `{"pairing_name":5,"kind":"user"}`, "/pairing_name", "type", "expected string, but got number"},
		{"root type", `[]`, "", "type", "expected object, but got array"},
		{"null", `null`, "", "type", "expected object, but got null"},
		{"integer type", `{"pairing_name":"abc","kind":"user","count":1.5}`, "/count", "type", "expected integer, but got number"},
		{"missing field", `{"kind":"user"}`, "", "required", `missing required property "pairing_name"`},
		{"missing fields", `{}`, "", "required", `missing required properties "pairing_name", "kind"`},
		{"extra field", `{"pairing_name":"abc","kind":"user","zzz":1}`, "", "additionalProperties", `property "zzz" is not allowed`},
		{"extra fields", `{"pairing_name":"abc","kind":"user","zzz":1,"aaa":[]}`, "", "additionalProperties", `properties "aaa", "zzz" are not allowed`},
		{"too long", `{"pairing_name":"` + long + `","kind":"user"}`, "/pairing_name", "maxLength", "length must be <= 64, but got 70"},
		{"too short", `{"pairing_name":"","kind":"user"}`, "/pairing_name", "minLength", "length must be >= 1, but got 0"},
		{"length counts runes", `{"pairing_name":"abc","kind":"user","items":[{"name":"ééééééééé","qty":1}]}`, "/items/0/name", "maxLength", "length must be <= 8, but got 9"},
		{"pattern", `{"pairing_name":"Abc","kind":"user"}`, "/pairing_name", "pattern", "does not match pattern '^[a-z][a-z0-9-]*$'"},
		{"string enum", `{"pairing_name":"abc","kind":"root"}`, "/kind", "enum", `value must be one of "user", "admin"`},
		{"integer enum", `{"pairing_name":"abc","kind":"user","level":4}`, "/level", "enum", "value must be one of 1, 2, 3"},
		{"minimum", `{"pairing_name":"abc","kind":"user","count":-1}`, "/count", "minimum", "must be >= 0 but found -1"},
		{"maximum", `{"pairing_name":"abc","kind":"user","count":11}`, "/count", "maximum", "must be <= 10 but found 11"},
		{"exclusive minimum", `{"pairing_name":"abc","kind":"user","ratio":0}`, "/ratio", "exclusiveMinimum", "must be > 0 but found 0"},
		{"exclusive maximum", `{"pairing_name":"abc","kind":"user","ratio":1.0}`, "/ratio", "exclusiveMaximum", "must be < 1 but found 1.0"},
		{"nested path", `{"pairing_name":"abc","kind":"user","address":{"city":"X","zip":"1234"}}`, "/address/zip", "pattern", "does not match pattern '^[0-9]{5}$'"},
		{"nested required", `{"pairing_name":"abc","kind":"user","address":{}}`, "/address", "required", `missing required properties "city", "zip"`},
		{"nested extra", `{"pairing_name":"abc","kind":"user","address":{"city":"X","zip":"12345","country":"NL"}}`, "/address", "additionalProperties", `property "country" is not allowed`},
		{"array item path", `{"pairing_name":"abc","kind":"user","items":[{"name":"a","qty":1},{"name":"a","qty":1},{"name":"toolongname","qty":1}]}`, "/items/2/name", "maxLength", "length must be <= 8, but got 11"},
		{"array item number", `{"pairing_name":"abc","kind":"user","items":[{"name":"a","qty":0}]}`, "/items/0/qty", "minimum", "must be >= 1 but found 0"},
		{"maxItems", `{"pairing_name":"abc","kind":"user","items":[{"name":"a","qty":1},{"name":"a","qty":1},{"name":"a","qty":1},{"name":"a","qty":1}]}`, "/items", "maxItems", "maximum 3 items required, but found 4 items"},
		{"minItems", `{"pairing_name":"abc","kind":"user","tags":[]}`, "/tags", "minItems", "minimum 1 items required, but found 0 items"},
		{"uniqueItems", `{"pairing_name":"abc","kind":"user","tags":["a","b","a"]}`, "/tags", "uniqueItems", "items at index 0 and 2 are equal"},
		{"format", `{"pairing_name":"abc","kind":"user","when":"yesterday"}`, "/when", "format", "'yesterday' is not valid 'date-time'"},
		{"map value", `{"pairing_name":"abc","kind":"user","labels":{"a/b~c":1}}`, "/labels/a~1b~0c", "type", "expected string, but got number"},
		{"deepest failure wins", `{"kind":"x","zzz":1,"items":[{"name":"a","qty":100}]}`, "/items/0/qty", "maximum", "must be <= 99 but found 100"},
		{"ties broken by path", `{"pairing_name":"abc","kind":"user","address":{"city":"","zip":"1"}}`, "/address/city", "minLength", "length must be >= 1, but got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkBoth(t, s, []byte(tt.doc))
			if tt.keyword == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(fmt.Errorf("wrapped: %w", err), &ve) {
				t.Fatalf("error %T %v is not a *ValidationError", err, err)
			}
			if ve.Path != tt.path || ve.Keyword != tt.keyword || ve.Message != tt.message {
				t.Errorf("got Path=%q Keyword=%q Message=%q\nwant      %q         %q         %q", ve.Path, ve.Keyword, ve.Message, tt.path, tt.keyword, tt.message)
			}
			path := tt.path
			if path == "" {
				path = "(root)"
			}
			if want := "schema: " + path + ": " + tt.keyword + ": " + tt.message; ve.Error() != want {
				t.Errorf("Error() = %q, want %q", ve.Error(), want)
			}
		})
	}
}

func TestHugeNumbers(t *testing.T) {
	s := MustParse(`{
		"type": "object",
		"properties": {
			"n": {"type": "integer", "minimum": 0, "maximum": 100},
			"x": {"type": "number", "maximum": 1e400},
			"b": {"type": "integer", "minimum": 123456789012345678901234567890},
			"e": {"enum": [1e400, 0.5]}
		}
	}`)
	tests := []struct {
		doc, path, keyword, message string
		libSafe                     bool // the library can check it without trouble
	}{
		{`{"n":100}`, "", "", "", true},
		{`{"n":1e2}`, "", "", "", true},
		{`{"n":100.000}`, "", "", "", true},
		{`{"n":1e400}`, "/n", "maximum", "must be <= 100 but found 1e400", true},
		{`{"n":-1e400}`, "/n", "minimum", "must be >= 0 but found -1e400", true},
		{`{"n":123456789012345678901234567890}`, "/n", "maximum", "must be <= 100 but found 123456789012345678901234567890", true},
		{`{"n":1e-400}`, "/n", "type", "expected integer, but got number", true},
		{`{"n":1e9999999999}`, "/n", "maximum", "must be <= 100 but found 1e9999999999", false},
		{`{"n":-1E+99999999999999999999999}`, "/n", "minimum", "must be >= 0 but found -1E+99999999999999999999999", false},
		{`{"n":1.5e-9999999999}`, "/n", "type", "expected integer, but got number", false},
		{`{"x":1e399}`, "", "", "", true},
		{`{"x":1e400}`, "", "", "", true},
		{`{"x":10e399}`, "", "", "", true},
		{`{"x":1.0000000000000000000000000001e400}`, "/x", "maximum", "must be <= +Inf but found 1.0000000000000000000000000001e400", true},
		{`{"b":123456789012345678901234567890}`, "", "", "", true},
		{`{"b":123456789012345678901234567891}`, "", "", "", true},
		{`{"b":123456789012345678901234567889}`, "/b", "minimum", "must be >= 1.2345678901234568e+29 but found 123456789012345678901234567889", true},
		{`{"b":1.23456789012345678901234567890e29}`, "", "", "", true},
		{`{"e":10e399}`, "", "", "", true},
		{`{"e":5e-1}`, "", "", "", true},
		{`{"e":1e399}`, "/e", "enum", "value must be one of 1e400, 0.5", true},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			start := time.Now()
			var err error
			if tt.libSafe {
				err = checkBoth(t, s, []byte(tt.doc))
			} else {
				err = s.ValidateJSON([]byte(tt.doc))
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("validation took %v", d)
			}
			if tt.keyword == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T %v is not a *ValidationError", err, err)
			}
			if ve.Path != tt.path || ve.Keyword != tt.keyword || ve.Message != tt.message {
				t.Errorf("got %q %q %q, want %q %q %q", ve.Path, ve.Keyword, ve.Message, tt.path, tt.keyword, tt.message)
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	s := MustFor[vMsg](nil)
	for _, doc := range []string{
		"", "   ", "{", `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{1:2}`,
		"tru", "nul", "fals", "trux", `"abc`, "\"a\tb\"", `"\x"`, `"\u12g4"`, `"\u12`,
		"01", "1.", "-", "-a", "1e", "1e+", ".5", "+1", `{} {}`, `{}x`, "\xef\xbb\xbf{}", "\x00",
		`{"pairing_name":"abc","kind":"user"`, `{"pairing_name":"abc","kind":"user"}}`,
	} {
		t.Run(fmt.Sprintf("%q", doc), func(t *testing.T) {
			err := s.ValidateJSON([]byte(doc))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %T %v, want *SyntaxError", err, err)
			}
			var want *json.SyntaxError
			if !errors.As(json.Unmarshal([]byte(doc), new(any)), &want) {
				t.Fatal("encoding/json accepts the document")
			}
			if se.Offset != want.Offset || se.Message != want.Error() {
				t.Errorf("got offset %d %q, encoding/json says %d %q", se.Offset, se.Message, want.Offset, want.Error())
			}
			if !strings.Contains(se.Error(), se.Message) {
				t.Errorf("Error() = %q", se.Error())
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	anything := MustParse(`{}`)
	arrays := MustParse(`{"type":"array","items":{"type":"array"},"uniqueItems":true}`)

	t.Run("too deep for JSON", func(t *testing.T) {
		doc := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
		var se *SyntaxError
		if err := anything.ValidateJSON([]byte(doc)); !errors.As(err, &se) || !strings.Contains(se.Message, "exceeded max depth") {
			t.Errorf("got %v, want max depth error", err)
		}
		doc = strings.Repeat(`{"a":`, 100000)
		if err := anything.ValidateJSON([]byte(doc)); !errors.As(err, &se) {
			t.Errorf("got %v, want *SyntaxError", err)
		}
	})
	t.Run("deep but allowed", func(t *testing.T) {
		const depth = 9999
		doc := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		if err := anything.ValidateJSON([]byte(doc)); err != nil {
			t.Error(err)
		}
		// Two equal deep elements: uniqueItems compares them all the way down.
		pair := "[" + doc[1:len(doc)-1] + "," + doc[1:len(doc)-1] + "]"
		var ve *ValidationError
		if err := arrays.ValidateJSON([]byte(pair)); !errors.As(err, &ve) || ve.Keyword != "uniqueItems" {
			t.Errorf("got %v, want uniqueItems error", err)
		}
	})
	t.Run("deep Go value", func(t *testing.T) {
		var v any = []any{}
		for i := 0; i < 200000; i++ {
			v = []any{v}
		}
		if err := anything.Validate(v); err != nil {
			t.Error(err)
		}
		if err := arrays.Validate(v); err != nil {
			t.Error(err)
		}
	})
}

func TestValidateGoValues(t *testing.T) {
	s := MustFor[vMsg](nil)
	// Values not produced by UseNumber decoding are handed to the library.
	if err := s.Validate(map[string]any{"pairing_name": "abc", "kind": "user", "count": float64(3)}); err != nil {
		t.Errorf("float64: %v", err)
	}
	var ve *ValidationError
	if err := s.Validate(map[string]any{"pairing_name": "abc", "kind": "user", "count": 11}); !errors.As(err, &ve) || ve.Path != "/count" || ve.Keyword != "maximum" {
		t.Errorf("int: got %v", err)
	}
	err := s.Validate(map[string]any{"pairing_name": "abc", "kind": "user", "count": struct{}{}})
	if err == nil || errors.As(err, &ve) {
		t.Errorf("struct value: got %v, want a non-validation error", err)
	}
	if err := s.Validate(map[string]any{"pairing_name": "abc", "kind": "user", "count": json.Number("x")}); err == nil {
		t.Error("invalid json.Number accepted")
	}
}

// TestFastMatchesLibrary runs documents through both validators and requires the
// same result, for schemas the fast validator covers.
func TestFastMatchesLibrary(t *testing.T) {
	docs := fastDocs
	for _, src := range fastSchemas {
		s := MustParse(src)
		if s.fast == nil {
			t.Errorf("schema %s is not covered by the fast validator", src)
			continue
		}
		for _, doc := range docs {
			checkBoth(t, s, []byte(doc))
		}
	}
}

// safeForLibrary reports whether the library can handle every number in v (it
// panics or works for a long time on huge exponents) and reports paths right
// (it drops empty property names from paths).
func safeForLibrary(v any) bool {
	switch x := v.(type) {
	case json.Number:
		d, _ := parseDecimal(string(x))
		return d.point < 1000 && d.point > -1000
	case []any:
		for _, e := range x {
			if !safeForLibrary(e) {
				return false
			}
		}
	case map[string]any:
		for k, e := range x {
			if k == "" || !safeForLibrary(e) {
				return false
			}
		}
	}
	return true
}

func FuzzFastMatchesLibrary(f *testing.F) {
	for _, d := range fastDocs {
		f.Add([]byte(d))
	}
	var schemas []*Schema
	for _, src := range fastSchemas {
		schemas = append(schemas, MustParse(src))
	}
	schemas = append(schemas, MustFor[vMsg](nil))
	f.Fuzz(func(t *testing.T, doc []byte) {
		v, err := decode(doc)
		if err != nil || !safeForLibrary(v) {
			return
		}
		for _, s := range schemas {
			checkBoth(t, s, doc)
		}
	})
}

var fastSchemas = []string{
	`{"type":["string","null"],"minLength":2,"maxLength":3,"pattern":"b","format":"ipv4"}`,
	`{"type":"number","minimum":-1.5,"maximum":2.25,"exclusiveMaximum":true}`,
	`{"type":"integer","minimum":-0,"exclusiveMinimum":true,"maximum":1e3}`,
	`{"enum":[1,"1",null,true,[1,{"a":2.0}],{"b":[]}]}`,
	`{"type":"array","items":{"type":"object","properties":{"n":{"type":"number"}},"required":["n"]},"uniqueItems":true,"minItems":1,"maxItems":25}`,
	`{"type":"array","uniqueItems":true}`,
	`{"type":"object","properties":{"a":{"type":"string","format":"email"},"b":{"format":"hostname"},"c":{"format":"uri"},"d":{"format":"date-time"}},"additionalProperties":{"type":"integer","maximum":5}}`,
	`{"properties":{"a":{"type":"object","properties":{"b":{"type":"array","items":{"enum":["x","y"]}}},"additionalProperties":false}},"required":["a"]}`,
	`{"title":"t","description":"d","default":1,"type":"boolean"}`,
	`{"format":"unknown-format","type":"string"}`,
}

var fastDocs = []string{
	`null`, `true`, `false`, `0`, `-0`, `1`, `1.0`, `10e-1`, `0.1e1`, `2.25`, `2.2499`, `-1.5`, `-1.50001`, `1000`, `1e3`, `1001`,
	`"a"`, `"ab"`, `"abc"`, `"abcd"`, `"1.2.3.4"`, `"1.2.3.256"`, `"éé"`, `"1"`,
	`[]`, `[1]`, `[1,1.0]`, `[1,"1"]`, `[{"n":1},{"n":1.0}]`, `[{"n":1},{"m":1}]`, `[{"n":"x"}]`, `[[1,{"a":2}]]`, `[1,{"a":2.0}]`, `{"b":[]}`, `{"b":[1]}`,
	`[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24]`,
	`[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,1.0e1]`,
	`[{"a":[1,2]},0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,{"a":[1,2.0]}]`,
	`{}`, `{"a":"x@y.z"}`, `{"a":"nope"}`, `{"b":"-bad-"}`, `{"c":"http://x/y"}`, `{"c":"not a uri"}`, `{"d":"2024-13-01T00:00:00Z"}`,
	`{"z":5}`, `{"z":6}`, `{"z":"5"}`, `{"a":{}}`, `{"a":{"b":["x","z"],"c":1}}`, `{"a":{"b":"x"}}`, `{"a":5}`,
}

func TestLibraryPath(t *testing.T) {
	s := MustParse(`{
		"definitions": {"name": {"type": "string", "maxLength": 3}},
		"type": "object",
		"properties": {
			"a": {"$ref": "#/definitions/name"},
			"b": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
			"c": {"enum": [1, "a", null], "not": {"type": "object"}},
			"d": {"dependencies": {"x": ["y"]}},
			"e": {"type": "number", "multipleOf": 0.5}
		},
		"patternProperties": {"^x-": {"type": "integer"}},
		"additionalProperties": false
	}`)
	if s.fast != nil {
		t.Fatal("schema unexpectedly covered by the fast validator")
	}
	tests := []struct {
		doc, path, keyword, message string
	}{
		{`{"a":"abc","b":1,"c":null,"d":{"x":1,"y":2},"e":1.5,"x-1":3}`, "", "", ""},
		{`{"a":"abcd"}`, "/a", "maxLength", "length must be <= 3, but got 4"},
		{`{"b":true}`, "/b", "type", "expected integer, but got boolean"},
		{`{"c":2}`, "/c", "enum", `value must be one of 1, "a", null`},
		{`{"d":{"x":1}}`, "/d", "dependencies", `property 'y' is required, if 'x' property exists`},
		{`{"e":0.7}`, "/e", "multipleOf", "0.7 not multipleOf 0.5"},
		{`{"zzz":1,"x-1":2,"yyy":2}`, "", "additionalProperties", `properties "yyy", "zzz" are not allowed`},
		{`{"zzz":1,"x-1":"s"}`, "/x-1", "type", "expected integer, but got string"},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			err := s.ValidateJSON([]byte(tt.doc))
			if tt.keyword == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T %v is not a *ValidationError", err, err)
			}
			if ve.Path != tt.path || ve.Keyword != tt.keyword || ve.Message != tt.message {
				t.Errorf("got %q %q %q, want %q %q %q", ve.Path, ve.Keyword, ve.Message, tt.path, tt.keyword, tt.message)
			}
		})
	}
	// The library path survives numbers it cannot handle.
	if err := MustParse(`{"type":"integer","not":{}}`).ValidateJSON([]byte(`1e9999999999`)); err == nil {
		t.Error("no error")
	}
}

func TestConcurrentValidate(t *testing.T) {
	schemas := []*Schema{
		MustFor[vMsg](nil),
		MustParse(`{"type":"object","properties":{"pairing_name":{"type":"string","maxLength":64,"not":{"enum":["x"]}}},"required":["kind"]}`),
	}
	good := []byte(`{"pairing_name":"abc","kind":"user","items":[{"name":"a","qty":1}]}`)
	bad := []byte(`{"pairing_name":"` + strings.Repeat("a", 70) + `","kind":"user"}`)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				for _, s := range schemas {
					if err := s.ValidateJSON(good); err != nil {
						t.Error(err)
						return
					}
					var ve *ValidationError
					if err := s.ValidateJSON(bad); !errors.As(err, &ve) || ve.Path != "/pairing_name" || ve.Keyword != "maxLength" {
						t.Errorf("got %v", err)
						return
					}
					_ = s.JSON()
				}
			}
		}()
	}
	wg.Wait()
}

func TestValidationErrorString(t *testing.T) {
	for _, tt := range []struct {
		err  *ValidationError
		want string
	}{
		{&ValidationError{Path: "/pairing_name", Keyword: "maxLength", Message: "length must be <= 64, but got 70"}, "schema: /pairing_name: maxLength: length must be <= 64, but got 70"},
		{&ValidationError{Keyword: "required", Message: `missing required property "a"`}, `schema: (root): required: missing required property "a"`},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// TestValidationErrorListsEveryViolation: a document that breaks several
// constraints gets every one, each by its JSON pointer, from the fast
// validator and from the library alike.
func TestValidationErrorListsEveryViolation(t *testing.T) {
	s := MustFor[vMsg](nil)
	doc := []byte(`{"pairing_name":"Bad Name","kind":"boss","items":[{"name":"much too long","qty":0}],"extra":1}`)
	err := checkBoth(t, s, doc)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %T %v, want a *ValidationError", err, err)
	}
	want := []Violation{
		{"", "additionalProperties", `property "extra" is not allowed`},
		{"/items/0/name", "maxLength", "length must be <= 8, but got 13"},
		{"/items/0/qty", "minimum", "must be >= 1 but found 0"},
		{"/kind", "enum", `value must be one of "user", "admin"`},
		{"/pairing_name", "pattern", "does not match pattern '^[a-z][a-z0-9-]*$'"},
	}
	if fmt.Sprint(ve.Violations) != fmt.Sprint(want) {
		t.Errorf("violations:\n got %v\nwant %v", ve.Violations, want)
	}
	if ve.Path != "/items/0/name" || ve.Keyword != "maxLength" {
		t.Errorf("most specific failure %s %s, want /items/0/name maxLength", ve.Path, ve.Keyword)
	}
	lib, _ := decode(doc)
	if libErr := s.validateLib(lib); !errors.As(libErr, &ve) || fmt.Sprint(ve.Violations) != fmt.Sprint(want) {
		t.Errorf("library: got %v", libErr)
	}
}
