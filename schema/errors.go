package schema

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ValidationError is returned (possibly wrapped) when a document does not satisfy
// the schema. Path, Keyword and Message describe the most specific failure: the
// one deepest in the document, ties broken deterministically. Violations lists
// every failure, that one included.
type ValidationError struct {
	// Path is the JSON pointer (RFC 6901) of the failing value, "" for the root,
	// e.g. "/pairing_name" or "/items/2/name". For "required" and
	// "additionalProperties" it is the path of the object.
	Path string
	// Keyword is the draft-04 keyword that failed: "type", "required", "maxLength",
	// "minLength", "pattern", "enum", "format", "minimum", "maximum",
	// "exclusiveMinimum", "exclusiveMaximum", "additionalProperties", "minItems",
	// "maxItems", "uniqueItems", ...
	Keyword string
	// Message is a human readable description, e.g. "length must be <= 64, but got 70".
	// For "required" it names the missing properties, for "additionalProperties"
	// the properties that are not allowed.
	Message string
	// Violations is every constraint the document fails, in document order
	// (by path, then keyword), each with the JSON pointer of its value. It
	// holds at least the failure that Path, Keyword and Message describe.
	Violations []Violation
}

// Violation is one constraint a document fails.
type Violation struct {
	// Path is the JSON pointer (RFC 6901) of the failing value, "" for the
	// root, as in ValidationError.Path.
	Path string
	// Keyword is the draft-04 keyword that failed.
	Keyword string
	// Message describes the failure.
	Message string
}

// String returns the violation as `/pairing_name: maxLength: length must be
// <= 64, but got 70`, the root shown as "(root)".
func (v Violation) String() string {
	p := v.Path
	if p == "" {
		p = "(root)"
	}
	return p + ": " + v.Keyword + ": " + v.Message
}

// Error returns a one-line description of the most specific failure, such
// as `schema: /pairing_name: maxLength: length must be <= 64, but got 70`.
// The root is shown as "(root)". Violations has the others.
func (e *ValidationError) Error() string {
	return "schema: " + Violation{Path: e.Path, Keyword: e.Keyword, Message: e.Message}.String()
}

// SyntaxError reports a body that is not valid JSON.
type SyntaxError struct {
	// Offset is the byte offset in the input at which the error was detected.
	Offset int64
	// Message describes the problem, e.g. "invalid character '}' looking for beginning of value".
	Message string
}

// Error returns the message with its offset.
func (e *SyntaxError) Error() string {
	return "schema: invalid JSON at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Message
}

// InvalidSchemaError is returned by Parse and MustParse when a schema document is
// not a valid draft-04 JSON Schema: malformed JSON, a $schema other than draft-04,
// content that fails the draft-04 metaschema, an invalid regular expression, or an
// external $ref.
type InvalidSchemaError struct {
	// Pointer is the JSON pointer of the offending value inside the schema document,
	// "" for the root or when unknown.
	Pointer string
	// Message describes the problem.
	Message string
	// Err is the underlying error, if any (a *SyntaxError for malformed JSON, or
	// the compiler's error). It is returned by Unwrap.
	Err error
}

// Error returns a one-line description of the problem.
func (e *InvalidSchemaError) Error() string {
	if e.Pointer != "" {
		return "schema: invalid schema: " + e.Pointer + ": " + e.Message
	}
	return "schema: invalid schema: " + e.Message
}

// Unwrap returns the underlying error.
func (e *InvalidSchemaError) Unwrap() error { return e.Err }

// DeriveError is returned by For, MustFor and Reflect when a Go type cannot be
// turned into a schema: an unsupported or recursive type, or a bad struct tag.
type DeriveError struct {
	// Type is the type passed to For or Reflect.
	Type reflect.Type
	// Field is the dotted Go path of the offending struct field relative to Type,
	// e.g. "Pairing.Name", or "" when the problem is not about a field.
	Field string
	// Keyword is the schema tag keyword involved, or "".
	Keyword string
	// Message describes the problem.
	Message string
	// Err is the underlying error, if any. It is returned by Unwrap.
	Err error
}

// Error returns a one-line description naming the type, field and keyword.
func (e *DeriveError) Error() string {
	var b strings.Builder
	b.WriteString("schema: cannot derive schema for ")
	if e.Type != nil {
		b.WriteString(e.Type.String())
	} else {
		b.WriteString("<nil>")
	}
	if e.Field != "" {
		b.WriteString(": field ")
		b.WriteString(e.Field)
	}
	if e.Keyword != "" {
		b.WriteString(": keyword ")
		b.WriteString(strconv.Quote(e.Keyword))
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *DeriveError) Unwrap() error { return e.Err }

// leaf is one failed constraint found while validating.
type leaf struct {
	path    string
	keyword string
	message string
}

// keywordRank orders keywords the way they are evaluated, to break ties.
func keywordRank(k string) int {
	switch k {
	case "type":
		return 0
	case "enum":
		return 1
	case "format":
		return 2
	case "required":
		return 3
	case "additionalProperties":
		return 4
	case "minItems":
		return 5
	case "maxItems":
		return 6
	case "uniqueItems":
		return 7
	case "minLength":
		return 8
	case "maxLength":
		return 9
	case "pattern":
		return 10
	case "minimum":
		return 11
	case "exclusiveMinimum":
		return 12
	case "maximum":
		return 13
	case "exclusiveMaximum":
		return 14
	}
	return 100
}

// pick chooses the most specific failure: deepest path first, then path,
// keyword evaluation order and message, so the choice is deterministic. The
// error lists every failure in Violations. It runs only on the failure path.
func pick(leaves []leaf) *ValidationError {
	sort.SliceStable(leaves, func(i, j int) bool {
		a, b := leaves[i], leaves[j]
		if da, db := strings.Count(a.path, "/"), strings.Count(b.path, "/"); da != db {
			return da > db
		}
		if a.path != b.path {
			return a.path < b.path
		}
		if ra, rb := keywordRank(a.keyword), keywordRank(b.keyword); ra != rb {
			return ra < rb
		}
		return a.message < b.message
	})
	l := leaves[0]
	all := make([]Violation, 0, len(leaves))
	for _, x := range leaves {
		v := Violation{Path: x.path, Keyword: x.keyword, Message: x.message}
		if !slices.Contains(all, v) {
			all = append(all, v)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if ra, rb := keywordRank(a.Keyword), keywordRank(b.Keyword); ra != rb {
			return ra < rb
		}
		return a.Message < b.Message
	})
	return &ValidationError{Path: l.path, Keyword: l.keyword, Message: l.message, Violations: all}
}

// pointer builds a JSON pointer from unescaped reference tokens.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

func escapeToken(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(t)
}

func unescapeToken(t string) string {
	if !strings.Contains(t, "~") {
		return t
	}
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
}

// libTokens splits a location written by the jsonschema library (JSON pointer
// tokens that are additionally URL path-escaped) into unescaped tokens.
func libTokens(loc string) []string {
	loc = strings.TrimPrefix(loc, "/")
	if loc == "" {
		return nil
	}
	parts := strings.Split(loc, "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		parts[i] = unescapeToken(p)
	}
	return parts
}

// quoteNames renders property names as a comma-separated list of Go-quoted strings.
func quoteNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func requiredMessage(missing []string) string {
	if len(missing) == 1 {
		return "missing required property " + quoteNames(missing)
	}
	return "missing required properties " + quoteNames(missing)
}

func additionalMessage(extra []string) string {
	if len(extra) == 1 {
		return "property " + quoteNames(extra) + " is not allowed"
	}
	return "properties " + quoteNames(extra) + " are not allowed"
}

// libQuote quotes s the way the jsonschema library does in its messages, so that
// both validation paths produce identical text.
func libQuote(s string) string {
	s = fmt.Sprintf("%q", s)
	s = strings.ReplaceAll(s, `\"`, `"`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s[1:len(s)-1] + "'"
}
