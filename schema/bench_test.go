package schema

import (
	"testing"
)

type benchFrame struct {
	Action string `json:"action"`
	Name   string `json:"name" schema:"minLength=1,maxLength=64,pattern=^[a-z][a-z0-9-]*$"`
}

var benchFrameJSON = []byte(`{"action":"pair","name":"kitchen-display"}`)

// BenchmarkValidate validates an already decoded small 2-field object.
func BenchmarkValidate(b *testing.B) {
	s := MustFor[benchFrame](nil)
	doc, err := decode(benchFrameJSON)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateJSON decodes and validates a small 2-field frame.
func BenchmarkValidateJSON(b *testing.B) {
	s := MustFor[benchFrame](nil)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ValidateJSON(benchFrameJSON); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateInvalid measures the failure path, which collects every
// failure to pick the most specific one.
func BenchmarkValidateInvalid(b *testing.B) {
	s := MustFor[benchFrame](nil)
	data := []byte(`{"action":"pair","name":"Kitchen Display"}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ValidateJSON(data); err == nil {
			b.Fatal("no error")
		}
	}
}

// BenchmarkValidateLibrary validates the same decoded object with the
// jsonschema library alone, for comparison.
func BenchmarkValidateLibrary(b *testing.B) {
	s := MustFor[benchFrame](nil)
	doc, err := decode(benchFrameJSON)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.validateLib(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse compiles a literal schema, checking it against the
// draft-04 metaschema.
func BenchmarkParse(b *testing.B) {
	raw := []byte(`{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":64,"pattern":"^[a-z]+$"},"tags":{"type":"array","items":{"type":"string"},"uniqueItems":true}},"required":["name"],"additionalProperties":false}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
