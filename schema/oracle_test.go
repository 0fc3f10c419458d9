package schema

import (
	"errors"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// These tests hold the package's validator to the jsonschema library's
// results for every draft-04 keyword, in every build: they run with
// -tags lambda.norpc too, where the library is linked into the test binary
// only.

var fullSchemas = []string{
	`{"definitions":{"name":{"type":"string","maxLength":3}},"type":"object","properties":{"a":{"$ref":"#/definitions/name"},"b":{"anyOf":[{"type":"string"},{"type":"integer"}]},"c":{"enum":[1,"a",null],"not":{"type":"object"}},"d":{"dependencies":{"x":["y"],"z":{"required":["w"]}}},"e":{"type":"number","multipleOf":0.5}},"patternProperties":{"^x-":{"type":"integer"}},"additionalProperties":false}`,
	`{"allOf":[{"type":"object"},{"required":["a"]},{"properties":{"a":{"minimum":3}}}]}`,
	`{"oneOf":[{"type":"integer"},{"type":"number","maximum":2},{"type":"string"}]}`,
	`{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}`,
	`{"type":"array","items":[{"type":"string"}],"additionalItems":{"type":"boolean"}}`,
	`{"type":"object","minProperties":1,"maxProperties":2,"additionalProperties":{"$ref":"#"}}`,
	`{"multipleOf":0.01}`, `{"multipleOf":3}`, `{"multipleOf":1e-5}`, `{"multipleOf":7e3}`,
	`{"not":{"anyOf":[{"type":"string"},{"type":"null"}]}}`,
	`{"properties":{"p":{"patternProperties":{"^[a-z]+$":{"type":"string"},"^a":{"minLength":2}}}}}`,
	`{"id":"http://example.com/s","x-vendor":true,"type":"string","format":"date-time"}`,
	`{"type":"string","format":"date"}`, `{"type":"string","format":"time"}`, `{"type":"string","format":"uuid"}`,
	`{"type":"string","format":"ipv6"}`, `{"type":"string","format":"uri-reference"}`, `{"type":"string","format":"regex"}`,
}

var fullDocs = []string{
	`null`, `true`, `0`, `1`, `1.5`, `2`, `2.5`, `3`, `0.03`, `0.005`, `-0.5`, `21000`, `7000`, `1e-5`, `3e-5`, `1.00001`,
	`""`, `"a"`, `"abc"`, `"2024-02-29"`, `"2023-02-29"`, `"23:59:60Z"`, `"23:59:60+01:00"`, `"00:59:60+01:00"`, `"12:00:00.5-05:30"`, `"12:00:00"`,
	`"2024-02-29T23:59:60Z"`, `"2024-02-29t10:00:00z"`, `"123e4567-e89b-12d3-a456-426614174000"`, `"123e4567e89b12d3a456426614174000"`,
	`"::1"`, `"1:2:3:4:5:6:7:8"`, `"1.2.3.4"`, `"/a/b?c#d"`, `"http://[::1]:80/x"`, `"http://[1.2.3]/"`, `"a\\b"`, `"(["`, `"^a+$"`,
	`[]`, `["a"]`, `["a",1]`, `["a",1,2]`, `["a",true,false]`, `["a","b"]`, `[1,"a"]`,
	`{}`, `{"a":1}`, `{"a":3}`, `{"a":"abcd"}`, `{"a":"abc","b":1,"c":null,"d":{"x":1,"y":2},"e":1.5,"x-1":3}`,
	`{"b":true}`, `{"c":2}`, `{"c":{}}`, `{"d":{"x":1}}`, `{"d":{"z":1}}`, `{"d":{"z":1,"w":2}}`, `{"e":0.7}`, `{"zzz":1,"x-1":"s"}`,
	`{"a":{},"b":{}}`, `{"a":{},"b":{},"c":{}}`, `{"a":{"b":{"c":{}}}}`, `{"a":{"b":{},"c":{},"d":{}}}`,
	`{"p":{"ab":"x","a":"y","B":1}}`, `{"p":{"abc":1}}`,
}

func TestFullMatchesLibrary(t *testing.T) {
	for _, src := range fullSchemas {
		s := MustParse(src)
		for _, doc := range fullDocs {
			checkBoth(t, s, []byte(doc))
		}
	}
}

func FuzzFullMatchesLibrary(f *testing.F) {
	for _, d := range fullDocs {
		f.Add([]byte(d))
	}
	var schemas []*Schema
	for _, src := range fullSchemas {
		schemas = append(schemas, MustParse(src))
	}
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

// TestParseMatchesLibrary: Parse accepts exactly the schemas the library
// compiles, for schemas that do not loop.
func TestParseMatchesLibrary(t *testing.T) {
	schemas := append([]string{
		`{}`, `{"type":"strin"}`, `{"type":["string","string"]}`, `{"type":[]}`, `{"required":[]}`, `{"required":["a","a"]}`,
		`{"minLength":-1}`, `{"minLength":1.5}`, `{"maxItems":"3"}`, `{"enum":[]}`, `{"enum":[1,1.0]}`, `{"enum":[1,2]}`,
		`{"multipleOf":0}`, `{"multipleOf":-1}`, `{"exclusiveMaximum":true}`, `{"exclusiveMaximum":true,"maximum":1}`,
		`{"pattern":"(["}`, `{"pattern":"a{2,1}"}`, `{"patternProperties":{"([":{}}}`, `{"patternProperties":{"a":5}}`,
		`{"items":[]}`, `{"items":5}`, `{"additionalItems":{"type":5}}`, `{"allOf":[]}`, `{"anyOf":[{}]}`, `{"oneOf":[5]}`,
		`{"not":[]}`, `{"dependencies":{"a":[]}}`, `{"dependencies":{"a":["b"]}}`, `{"dependencies":{"a":5}}`,
		`{"definitions":{"a":{"type":"x"}}}`, `{"properties":{"a":{"properties":{"b":{"minimum":"0"}}}}}`,
		`{"$ref":"#/definitions/a","definitions":{"a":{"type":"string"}}}`, `{"$ref":"#/definitions/missing"}`,
		`{"$ref":"http://example.com/s.json"}`, `{"$ref":"#/properties/a","properties":{"a":{"type":"integer"}}}`,
		`{"id":"not a uri ref\\"}`, `{"format":5}`, `{"title":1}`, `{"default":{"patternProperties":{"(":{}}}}`,
	}, fullSchemas...)
	for _, src := range schemas {
		_, ours := Parse([]byte(src))
		_, theirs := compileLib([]byte(src))
		if (ours == nil) != (theirs == nil) {
			t.Errorf("%s: Parse says %v, the library says %v", src, ours, theirs)
		}
		var ie *InvalidSchemaError
		if ours != nil && !errors.As(ours, &ie) {
			t.Errorf("%s: %T %v is not an *InvalidSchemaError", src, ours, ours)
		}
	}
}

// TestFormatsMatchLibrary compares each format check with the library's.
func TestFormatsMatchLibrary(t *testing.T) {
	values := []string{
		"", "a", "-a", "a-", "a.b", "a..b", "a.b.", "xn--bcher-kva.example", "a_b.com", "1.2.3.4", "1.2.3.04", "0.0.0.0", "256.1.1.1", "1.2.3",
		"::1", "::", "1::", "fe80::1%eth0", "1:2:3:4:5:6:7:8", "1.2.3.4:80", "::ffff:1.2.3.4",
		"a@b.c", "a@b", "a@-b.c", "a.b@c.d", `"a b"@c.d`, "a@[1.2.3.4]", "a@[IPv6:::1]", "a@[IPv6:1.2.3.4]", "@b.c", "a@", "a@b@c.d",
		"http://x/y", "http://[::1]/", "http://::1/", "http://[::1", "mailto:a@b.c", "//x/y", "/y", "y", "x:", "a b", "%zz", "http://x/%zz", `a\b`,
		"2024-01-01", "2024-13-01", "2024-02-30", "24-01-01", "2024-01-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01 00:00:00Z",
		"2024-01-01T00:00:00.123+05:30", "2024-01-01T00:00:00.+05:30", "2024-01-01T00:00:00+5:30", "2024-12-31T23:59:60Z", "2024-12-31T23:59:60+00:01",
		"00:00:00Z", "00:00:00", "23:59:60z", "12:00:00-23:59", "12:00:00+24:00", "12:60:00Z",
		"123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-42661417400G", "123e4567-e89b-12d3-a456-4266141740000",
		"^a$", "(", "(?i)x", "(?=x)", `\d+`, "[z-a]",
	}
	for _, name := range []string{"date-time", "date", "time", "email", "hostname", "ipv4", "ip-address", "ipv6", "uri", "uri-reference", "uriref", "regex", "uuid"} {
		ours, theirs := formatChecker(name), jsonschema.Formats[name]
		if ours == nil || theirs == nil {
			t.Fatalf("format %s: no check", name)
		}
		for _, v := range values {
			if a, b := ours(v), theirs(v); a != b {
				t.Errorf("format %s of %q: %v, library %v", name, v, a, b)
			}
		}
		if !ours(5) || !ours(nil) {
			t.Errorf("format %s fails a non-string", name)
		}
	}
}

func FuzzFormatsMatchLibrary(f *testing.F) {
	for _, s := range []string{"a@b.c", "2024-01-01T00:00:00Z", "::1", "http://x/y", "1.2.3.4", "(["} {
		f.Add(s)
	}
	names := []string{"date-time", "date", "time", "email", "hostname", "ipv4", "ipv6", "uri", "uri-reference", "regex", "uuid"}
	f.Fuzz(func(t *testing.T, v string) {
		for _, name := range names {
			if a, b := formatChecker(name)(v), jsonschema.Formats[name](v); a != b {
				t.Errorf("format %s of %q: %v, library %v", name, v, a, b)
			}
		}
	})
}

// TestParseRefusesLoops: a $ref that comes back to the same value without
// descending into it is refused at Parse, instead of looping at validation.
func TestParseRefusesLoops(t *testing.T) {
	for _, src := range []string{
		`{"$ref":"#"}`,
		`{"allOf":[{"$ref":"#"}]}`,
		`{"definitions":{"a":{"$ref":"#/definitions/b"},"b":{"not":{"$ref":"#/definitions/a"}}},"properties":{"x":{"$ref":"#/definitions/a"}}}`,
	} {
		var ie *InvalidSchemaError
		if _, err := Parse([]byte(src)); !errors.As(err, &ie) {
			t.Errorf("%s: got %v, want an *InvalidSchemaError", src, err)
		}
	}
	// Recursion through members and items is fine.
	s := MustParse(`{"type":"object","properties":{"next":{"$ref":"#"}},"additionalProperties":false}`)
	if err := s.ValidateJSON([]byte(`{"next":{"next":{"next":{}}}}`)); err != nil {
		t.Error(err)
	}
	if err := s.ValidateJSON([]byte(`{"next":{"next":{"x":1}}}`)); err == nil {
		t.Error("no error for an extra property three levels down")
	}
}
