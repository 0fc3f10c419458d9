package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Draft04 is the $schema URI every schema carries in its canonical JSON.
const Draft04 = "http://json-schema.org/draft-04/schema#"

// Schema is a compiled draft-04 JSON Schema plus its canonical JSON.
// A Schema is immutable and safe for concurrent use.
type Schema struct {
	raw  []byte            // canonical JSON
	doc  map[string]any    // canonical JSON decoded with UseNumber; read-only
	full *node             // the compiled schema, every keyword
	fast *node             // full, if it uses only the allocation-free subset of keywords; else nil
	keys map[string]string // property names of the fast validator, reused by the decoder
}

// Parse compiles a literal JSON Schema. The document must be a JSON object that is
// valid against the draft-04 metaschema; a "$schema" member, if present, must name
// draft-04 (it is added when missing). Regular expressions must compile with Go's
// regexp package, and "$ref" may only point inside the document. Errors are
// *InvalidSchemaError.
func Parse(raw []byte) (*Schema, error) {
	v, err := decode(raw)
	if err != nil {
		return nil, &InvalidSchemaError{Message: "not valid JSON: " + err.(*SyntaxError).Message, Err: err}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &InvalidSchemaError{Message: "a schema must be a JSON object"}
	}
	return compile(m, true)
}

// MustParse is like Parse but panics if the schema is invalid. It is meant for
// package-level schema literals.
func MustParse(raw string) *Schema {
	s, err := Parse([]byte(raw))
	if err != nil {
		panic(fmt.Errorf("schema.MustParse: %w", err))
	}
	return s
}

// compile checks and compiles a decoded schema object, which it takes
// ownership of. Literal schemas (check true) are checked against the
// draft-04 metaschema; so are derived ones that use keywords outside the
// allocation-free subset (through Options.ExtraProperties).
func compile(m map[string]any, check bool) (*Schema, error) {
	if v, ok := m["$schema"]; ok {
		uri, _ := v.(string)
		if !isDraft04(uri) {
			return nil, &InvalidSchemaError{Pointer: "/$schema", Message: fmt.Sprintf("unsupported $schema %s: only draft-04 (%s) is supported", compactJSON(v), Draft04)}
		}
	}
	m["$schema"] = Draft04
	raw, err := canonical(m)
	if err != nil {
		return nil, &InvalidSchemaError{Message: err.Error(), Err: err}
	}
	s := &Schema{raw: raw, doc: m}
	if n, ok := compileNode(m); ok {
		s.fast = n
		s.keys = map[string]string{}
		n.collectKeys(s.keys)
	}
	if check || s.fast == nil {
		if err := checkSchema(m); err != nil {
			return nil, err
		}
	}
	if s.fast != nil {
		s.full = s.fast
		return s, nil
	}
	if s.full, err = compileFull(m); err != nil {
		return nil, err
	}
	return s, nil
}

func isDraft04(uri string) bool {
	uri = strings.TrimSuffix(strings.TrimSuffix(uri, "/"), "#")
	return uri == "http://json-schema.org/draft-04/schema" || uri == "https://json-schema.org/draft-04/schema"
}

// JSON returns the canonical JSON of the schema: compact, object keys sorted, with
// "$schema" set to draft-04. It is exactly what goes into an API Gateway model.
// The returned slice is a copy.
func (s *Schema) JSON() []byte {
	return bytes.Clone(s.raw)
}

// String returns the canonical JSON as a string.
func (s *Schema) String() string {
	return string(s.raw)
}

// Validate checks doc against the schema. doc must be a value as produced by an
// encoding/json Decoder with UseNumber: map[string]any, []any, json.Number,
// string, bool or nil, nested arbitrarily; Go's integer and floating-point
// types are accepted as numbers too. A document that does not satisfy the
// schema yields a *ValidationError.
func (s *Schema) Validate(doc any) error {
	w := walker{}
	if w.validate(s.full, doc) {
		return nil
	}
	if w.unsupported {
		norm, err := normalize(doc)
		if err != nil {
			return fmt.Errorf("schema: cannot validate document: %w", err)
		}
		return s.Validate(norm)
	}
	w = walker{collect: true}
	w.validate(s.full, doc)
	return pick(w.leaves)
}

// ValidateJSON decodes data (numbers as json.Number, no trailing data allowed)
// and validates the result. Malformed JSON yields a *SyntaxError; a document that
// does not satisfy the schema yields a *ValidationError.
func (s *Schema) ValidateJSON(data []byte) error {
	doc, err := decodeNames(data, s.keys)
	if err != nil {
		return err
	}
	return s.Validate(doc)
}

// normalize returns doc with Go numbers turned into json.Number, or an
// error for a value JSON cannot hold.
func normalize(doc any) (any, error) {
	switch x := doc.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		if _, ok := parseDecimal(string(x)); !ok {
			return nil, fmt.Errorf("invalid json.Number %q", string(x))
		}
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a JSON number", x)
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case float32:
		return normalize(float64(x))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return json.Number(fmt.Sprint(x)), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			v, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			v, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("invalid JSON type %T", doc)
}

// keywordOf returns the keyword named by a keyword location, skipping array
// indexes and property names (e.g. "dependencies/a/0" -> "dependencies").
func keywordOf(tokens []string) string {
	i := len(tokens) - 1
	for i > 0 && isIndex(tokens[i]) {
		i--
	}
	if i < 0 {
		return ""
	}
	if i > 0 {
		switch tokens[i-1] {
		case "properties", "patternProperties", "dependencies", "definitions":
			return tokens[i-1]
		}
	}
	return tokens[i]
}

func isIndex(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) {
			return false
		}
	}
	return true
}

// lookup resolves unescaped JSON pointer tokens in a decoded JSON value.
func lookup(v any, tokens []string) any {
	for _, t := range tokens {
		switch x := v.(type) {
		case map[string]any:
			v = x[t]
		case []any:
			i := 0
			if !isIndex(t) {
				return nil
			}
			for j := 0; j < len(t); j++ {
				i = i*10 + int(t[j]-'0')
				if i >= len(x) {
					return nil
				}
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// canonical encodes v compactly with sorted object keys and without HTML escaping.
func canonical(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// compactJSON renders a decoded JSON value for a message.
func compactJSON(v any) string {
	b, err := canonical(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func enumMessage(vals []any) string {
	if len(vals) == 1 {
		return "value must be " + compactJSON(vals[0])
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = compactJSON(v)
	}
	return "value must be one of " + strings.Join(parts, ", ")
}
