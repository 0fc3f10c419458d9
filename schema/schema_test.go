package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCanonical(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"adds $schema, sorts keys, keeps numbers",
			`{ "type": "object", "properties": { "b": {"type":"string","pattern":"<a&b>"}, "a": {"type":"number","maximum":1e400,"minimum":1.50} } }`,
			`{"$schema":"http://json-schema.org/draft-04/schema#","properties":{"a":{"maximum":1e400,"minimum":1.50,"type":"number"},"b":{"pattern":"<a&b>","type":"string"}},"type":"object"}`},
		{"draft-04 without fragment", `{"$schema":"http://json-schema.org/draft-04/schema"}`, `{"$schema":"http://json-schema.org/draft-04/schema#"}`},
		{"draft-04 over https", `{"$schema":"https://json-schema.org/draft-04/schema#","type":"string"}`, `{"$schema":"http://json-schema.org/draft-04/schema#","type":"string"}`},
		{"empty schema", `{}`, `{"$schema":"http://json-schema.org/draft-04/schema#"}`},
		{"unicode kept", `{"description":"caf\u00e9 \u2028"}`, `{"$schema":"http://json-schema.org/draft-04/schema#","description":"café \u2028"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(s.JSON()); got != tt.want {
				t.Errorf("JSON() = %s\nwant     %s", got, tt.want)
			}
			if s.String() != tt.want {
				t.Errorf("String() = %s", s)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, in, pointer, msg string
	}{
		{"malformed JSON", `{"type":`, "", "not valid JSON"},
		{"trailing data", `{} {}`, "", "after top-level value"},
		{"array", `[]`, "", "must be a JSON object"},
		{"boolean schema", `true`, "", "must be a JSON object"},
		{"draft-07", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"string"}`, "/$schema", "only draft-04"},
		{"$schema not a string", `{"$schema":4}`, "/$schema", "unsupported $schema 4"},
		{"unknown type", `{"type":"strin"}`, "/type", "value must be one of"},
		{"empty required", `{"required":[]}`, "/required", "minimum 1 items required"},
		{"negative minLength", `{"properties":{"a":{"minLength":-1}}}`, "/properties/a/minLength", "must be >= 0"},
		{"properties not an object", `{"properties":5}`, "/properties", "expected object"},
		{"exclusiveMinimum without minimum", `{"exclusiveMinimum":true}`, "", "minimum"},
		{"draft-06 exclusiveMinimum", `{"exclusiveMinimum":5}`, "/exclusiveMinimum", "expected boolean"},
		{"invalid pattern", `{"pattern":"(["}`, "/pattern", "not valid 'regex'"},
		{"pattern Go cannot run", `{"properties":{"a":{"pattern":"(?=x)"}}}`, "/properties/a/pattern", "not valid 'regex'"},
		{"invalid patternProperties", `{"patternProperties":{"([":{}}}`, "/patternProperties", "not valid regex"},
		{"external $ref", `{"$ref":"http://example.com/s.json"}`, "", "external reference"},
		{"file $ref", `{"$ref":"file:///etc/passwd"}`, "", "external reference"},
		{"missing $ref target", `{"$ref":"#/definitions/missing"}`, "", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("accepted: %s", s.JSON())
			}
			var ie *InvalidSchemaError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v is not an *InvalidSchemaError", err, err)
			}
			if ie.Pointer != tt.pointer || !strings.Contains(ie.Message, tt.msg) {
				t.Errorf("got Pointer=%q Message=%q, want %q ~%q", ie.Pointer, ie.Message, tt.pointer, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "schema: invalid schema: ") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
	var se *SyntaxError
	if _, err := Parse([]byte(`{"a":`)); !errors.As(err, &se) {
		t.Errorf("malformed schema: %v does not wrap a *SyntaxError", err)
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		r := recover()
		err, ok := r.(error)
		var ie *InvalidSchemaError
		if !ok || !errors.As(err, &ie) || !strings.Contains(err.Error(), "MustParse") {
			t.Errorf("MustParse panicked with %v", r)
		}
	}()
	MustParse(`{"type":"strin"}`)
}

func TestJSONReturnsCopy(t *testing.T) {
	s := MustParse(`{"type":"string"}`)
	b := s.JSON()
	want := string(b)
	for i := range b {
		b[i] = 'x'
	}
	if got := string(s.JSON()); got != want {
		t.Errorf("JSON() changed to %s", got)
	}
}
