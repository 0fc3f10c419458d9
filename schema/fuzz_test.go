package schema

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// fuzzSchemas are the schemas FuzzValidateJSON checks bodies against: the
// shapes mullet apps derive (with the route-selection field admitted, as
// framework.Handle does) and literal ones.
func fuzzSchemas() []*Schema {
	type nick struct {
		Nick string `json:"nick" schema:"minLength=1,maxLength=32,pattern=^[^\\s].*$"`
	}
	type send struct {
		Room string   `json:"room" schema:"minLength=1,maxLength=64,pattern=^[A-Za-z0-9_.-]+$"`
		Text string   `json:"text" schema:"minLength=1,maxLength=4096"`
		Tags []string `json:"tags,omitempty" schema:"maxItems=4,uniqueItems"`
		N    *int     `json:"n,omitempty" schema:"minimum=0,maximum=10"`
	}
	action := &Options{ExtraProperties: map[string]json.RawMessage{"action": json.RawMessage(`{"type":"string"}`)}}
	out := []*Schema{MustFor[nick](action), MustFor[send](action), MustFor[vMsg](nil)}
	for _, src := range fastSchemas {
		out = append(out, MustParse(src))
	}
	return out
}

// FuzzValidateJSON validates arbitrary bodies. ValidateJSON never panics;
// it returns nil, a *SyntaxError exactly when encoding/json rejects the
// body, or a *ValidationError with a keyword; and the fast validator
// agrees with the jsonschema library wherever the library can judge.
func FuzzValidateJSON(f *testing.F) {
	for _, d := range fastDocs {
		f.Add([]byte(d))
	}
	for _, d := range decodeSeeds {
		f.Add([]byte(d))
	}
	for _, d := range []string{
		`{"action":"nick","nick":"ann"}`, `{"action":"nick","nick":" x"}`, `{"action":"nick","nick":""}`,
		`{"action":"send","room":"r","text":"hi","tags":["a","a"],"n":11}`, `{"action":"send","room":"r/x","text":"hi"}`,
		`{"action":"nick","nick":"ann","extra":1}`, `{"action":5,"nick":"a"}`, `[[[[[[[[[[]]]]]]]]]]`,
	} {
		f.Add([]byte(d))
	}
	schemas := fuzzSchemas()
	f.Fuzz(func(t *testing.T, doc []byte) {
		_, decodeErr := decode(doc)
		for _, s := range schemas {
			err := s.ValidateJSON(doc)
			var se *SyntaxError
			var ve *ValidationError
			switch {
			case err == nil:
			case errors.As(err, &se):
				if json.Valid(doc) {
					t.Fatalf("%q: syntax error %v, but encoding/json accepts it", doc, err)
				}
				continue
			case errors.As(err, &ve):
				if ve.Keyword == "" || ve.Message == "" || !strings.HasPrefix(ve.Error(), "schema: ") {
					t.Fatalf("%q: validation error without keyword or message: %#v", doc, ve)
				}
			default:
				t.Fatalf("%q: error %T %v is neither a syntax nor a validation error", doc, err, err)
			}
			if !json.Valid(doc) {
				t.Fatalf("%q: encoding/json rejects it but ValidateJSON gave %v", doc, err)
			}
			if decodeErr == nil && s.fast != nil {
				if v, _ := decode(doc); safeForLibrary(v) {
					checkBoth(t, s, doc)
				}
			}
		}
	})
}

// FuzzParse compiles arbitrary schema documents. Parse never panics and
// fails only with *InvalidSchemaError; a schema it accepts has canonical
// JSON that parses to the same canonical JSON, and validating documents
// with it never panics.
func FuzzParse(f *testing.F) {
	for _, s := range fastSchemas {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{}`, `{"type":"object","properties":{"a":{"$ref":"#/definitions/x"}},"definitions":{"x":{"type":"integer"}}}`,
		`{"$ref":"http://example.com/x"}`, `{"$schema":"http://json-schema.org/draft-07/schema#"}`, `{"pattern":"(?<x>"}`,
		`{"type":"strin"}`, `{"minLength":-1}`, `{"enum":[]}`, `{"not":{"not":{}}}`, `{"allOf":[{"type":"string"},{"maxLength":2}]}`,
		`[]`, `"x"`, `{"properties":{"":{}}}`, `{"multipleOf":0}`, `{"multipleOf":1e-300}`, `{"maximum":1e400}`,
	} {
		f.Add([]byte(s))
	}
	docs := [][]byte{[]byte(`null`), []byte(`"ab"`), []byte(`1.5`), []byte(`{"a":[1,"x",{"b":null}]}`), []byte(`[1,1]`)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Parse(raw)
		if err != nil {
			var ie *InvalidSchemaError
			if !errors.As(err, &ie) {
				t.Fatalf("Parse(%q): error %T %v is not an *InvalidSchemaError", raw, err, err)
			}
			return
		}
		again, err := Parse(s.JSON())
		if err != nil {
			t.Fatalf("canonical JSON %s of %q does not parse: %v", s.JSON(), raw, err)
		}
		if string(again.JSON()) != string(s.JSON()) {
			t.Fatalf("canonical JSON is not stable:\n%s\n%s", s.JSON(), again.JSON())
		}
		for _, d := range docs {
			_ = s.ValidateJSON(d)
		}
	})
}
