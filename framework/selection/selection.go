package selection

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultExpression is the route selection expression API Gateway proposes
// for new WebSocket APIs and the one mullet uses when none is given.
const DefaultExpression = "$request.body.action"

// ErrNoMatch reports that an expression cannot be evaluated against a frame:
// the frame is not a JSON object, a referenced field is missing, or a field is
// not a scalar. API Gateway routes such frames to "$default".
var ErrNoMatch = errors.New("selection: expression cannot be evaluated against this frame")

// Expression is a parsed route selection expression. It is immutable and safe
// for concurrent use.
type Expression struct {
	source string
	// parts alternate literal text and field references; a part with a nil
	// path is literal text.
	parts []part
}

type part struct {
	literal string
	path    []string
}

// Parse parses a route selection expression. Two forms are accepted, as in
// API Gateway: a single reference "$request.body.a.b" and a template that mixes
// literal text with references "${request.body.a}/${request.body.b}".
func Parse(expr string) (*Expression, error) {
	if expr == "" {
		return nil, errors.New(`selection: empty route selection expression; use "$request.body.action" or a template like "${request.body.service}/${request.body.action}"`)
	}
	e := &Expression{source: expr}
	if strings.HasPrefix(expr, "$request.") {
		path, err := parsePath(expr[1:], expr)
		if err != nil {
			return nil, err
		}
		e.parts = []part{{path: path}}
		return e, nil
	}
	rest := expr
	for rest != "" {
		i := strings.Index(rest, "${")
		if i < 0 {
			if strings.Contains(rest, "$") {
				return nil, fmt.Errorf("selection: %q: stray '$' in literal text %q; references look like ${request.body.field}", expr, rest)
			}
			e.parts = append(e.parts, part{literal: rest})
			break
		}
		if i > 0 {
			lit := rest[:i]
			if strings.Contains(lit, "$") {
				return nil, fmt.Errorf("selection: %q: stray '$' in literal text %q; references look like ${request.body.field}", expr, lit)
			}
			e.parts = append(e.parts, part{literal: lit})
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("selection: %q: unclosed '${'; close it with '}'", expr)
		}
		path, err := parsePath(rest[i+2:i+end], expr)
		if err != nil {
			return nil, err
		}
		e.parts = append(e.parts, part{path: path})
		rest = rest[i+end+1:]
	}
	hasRef := false
	for _, p := range e.parts {
		if p.path != nil {
			hasRef = true
		}
	}
	if !hasRef {
		return nil, fmt.Errorf("selection: %q refers to no field; use $request.body.<field>", expr)
	}
	return e, nil
}

func parsePath(ref, expr string) ([]string, error) {
	const prefix = "request.body."
	if !strings.HasPrefix(ref, prefix) {
		return nil, fmt.Errorf("selection: %q: reference %q must start with request.body. (WebSocket APIs select routes from the message body)", expr, ref)
	}
	fields := strings.Split(ref[len(prefix):], ".")
	for _, f := range fields {
		if f == "" {
			return nil, fmt.Errorf("selection: %q: empty field name in %q", expr, ref)
		}
		for _, r := range f {
			if r == '$' || r == '{' || r == '}' || r == ' ' {
				return nil, fmt.Errorf("selection: %q: invalid character %q in field name %q", expr, r, f)
			}
		}
	}
	return fields, nil
}

// MustParse is like Parse but panics on error. It is meant for declarations
// at program start.
func MustParse(expr string) *Expression {
	e, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return e
}

// String returns the expression as written.
func (e *Expression) String() string { return e.source }

// TopLevelFields returns the distinct top-level body fields the expression
// reads, in order of first use. Schemas admit these fields even when they
// forbid additional properties.
func (e *Expression) TopLevelFields() []string {
	var out []string
	for _, p := range e.parts {
		if p.path == nil {
			continue
		}
		dup := false
		for _, f := range out {
			if f == p.path[0] {
				dup = true
			}
		}
		if !dup {
			out = append(out, p.path[0])
		}
	}
	return out
}

// Paths returns the field paths the expression reads, e.g. [["action"]].
func (e *Expression) Paths() [][]string {
	var out [][]string
	for _, p := range e.parts {
		if p.path != nil {
			out = append(out, append([]string(nil), p.path...))
		}
	}
	return out
}

// SelectBody evaluates the expression against a raw frame. It returns
// ErrNoMatch when the frame is not JSON or a field is missing. It does not
// decode the frame: it checks that it is valid JSON and walks it to the
// referenced fields, so a single-field expression allocates nothing beyond
// its result.
func (e *Expression) SelectBody(body []byte) (string, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || !json.Valid(body) {
		return "", ErrNoMatch
	}
	if len(e.parts) == 1 && e.parts[0].path != nil {
		return lookupRaw(body, e.parts[0].path)
	}
	var b strings.Builder
	for _, p := range e.parts {
		if p.path == nil {
			b.WriteString(p.literal)
			continue
		}
		v, err := lookupRaw(body, p.path)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// lookupRaw finds the scalar at path in a valid JSON object.
func lookupRaw(data []byte, path []string) (string, error) {
	for depth, field := range path {
		i := skipSpace(data, 0)
		if i >= len(data) || data[i] != '{' {
			return "", ErrNoMatch
		}
		i++
		var found []byte
		for {
			i = skipSpace(data, i)
			if i >= len(data) || data[i] == '}' {
				break
			}
			if data[i] == ',' {
				i = skipSpace(data, i+1)
			}
			keyStart := i
			i = skipString(data, i)
			key := data[keyStart:i]
			i = skipSpace(data, i)
			i++ // ':'
			i = skipSpace(data, i)
			valStart := i
			i = skipValue(data, i)
			if keyEquals(key, field) {
				// The last duplicate wins, as in encoding/json.
				found = data[valStart:i]
			}
		}
		if found == nil {
			return "", ErrNoMatch
		}
		if depth < len(path)-1 {
			data = found
			continue
		}
		return scalar(found)
	}
	return "", ErrNoMatch
}

// keyEquals compares a raw JSON string token with a field name, decoding
// escapes only when the token has any.
func keyEquals(raw []byte, field string) bool {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner) == field
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return false
	}
	return s == field
}

func scalar(v []byte) (string, error) {
	switch v[0] {
	case '"':
		inner := v[1 : len(v)-1]
		// Without escapes or invalid UTF-8 (which decoding replaces with
		// U+FFFD) the token is the string itself.
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return string(inner), nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", ErrNoMatch
		}
		return s, nil
	case 't', 'f':
		return string(v), nil
	case 'n', '{', '[':
		// null, objects and arrays cannot name a route.
		return "", ErrNoMatch
	default:
		return string(v), nil // a number, as written
	}
}

func skipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at d[i] == '"'.
func skipString(d []byte, i int) int {
	for i++; i < len(d); i++ {
		switch d[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the value starting at d[i]. d is
// known to be valid JSON.
func skipValue(d []byte, i int) int {
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for ; i < len(d); i++ {
			switch d[i] {
			case '"':
				i = skipString(d, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default:
		for i < len(d) && d[i] != ',' && d[i] != '}' && d[i] != ']' && d[i] != ' ' && d[i] != '\t' && d[i] != '\n' && d[i] != '\r' {
			i++
		}
		return i
	}
}

// Select evaluates the expression against a decoded JSON object (as decoded
// by encoding/json, with or without UseNumber).
func (e *Expression) Select(doc map[string]any) (string, error) {
	if len(e.parts) == 1 && e.parts[0].path != nil {
		return lookup(doc, e.parts[0].path)
	}
	var b strings.Builder
	for _, p := range e.parts {
		if p.path == nil {
			b.WriteString(p.literal)
			continue
		}
		v, err := lookup(doc, p.path)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

func lookup(doc map[string]any, path []string) (string, error) {
	var cur any = doc
	for _, f := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", ErrNoMatch
		}
		cur, ok = m[f]
		if !ok {
			return "", ErrNoMatch
		}
	}
	switch v := cur.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	default:
		// null, objects and arrays cannot name a route.
		return "", ErrNoMatch
	}
}
