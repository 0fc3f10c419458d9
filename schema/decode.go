package schema

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a JSON decoder that yields exactly what json.Unmarshal into an
// `any` with UseNumber yields (map[string]any, []any, json.Number, string, bool,
// nil; last duplicate key wins; invalid UTF-8 and lone surrogates become U+FFFD),
// with the same syntax errors and offsets, but with less overhead: no
// intermediate buffers and, for keys the schema knows, no key allocations.
// Tests compare it with encoding/json.

// Decode parses one JSON document (surrounded by optional whitespace, with
// nothing after it) into the values Validate takes: map[string]any, []any,
// json.Number, string, bool and nil, exactly as encoding/json with
// UseNumber would. Malformed JSON yields a *SyntaxError. Decode once and
// Validate against several schemas, or inspect the document first (as
// route selection does), instead of calling ValidateJSON for each.
func Decode(data []byte) (any, error) {
	return decode(data)
}

// Decoder decodes documents as Decode does, for validation against any of
// a set of schemas: object keys that are property names of those schemas
// share one string instead of being allocated for each document. A Decoder
// is immutable and safe for concurrent use.
type Decoder struct {
	names map[string]string
}

// NewDecoder returns a Decoder for documents validated against schemas
// (nil entries are skipped).
func NewDecoder(schemas ...*Schema) *Decoder {
	names := map[string]string{}
	for _, s := range schemas {
		if s == nil {
			continue
		}
		for k, v := range s.keys {
			names[k] = v
		}
	}
	return &Decoder{names: names}
}

// Decode is the package-level Decode, sharing the schemas' property names.
func (d *Decoder) Decode(data []byte) (any, error) {
	return decodeNames(data, d.names)
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

type decoder struct {
	data  []byte
	pos   int
	depth int
	names map[string]string // known object keys, to avoid allocating them; may be nil
}

// decode parses exactly one JSON value, surrounded by optional whitespace.
// Errors are *SyntaxError.
func decode(data []byte) (any, error) {
	return decodeNames(data, nil)
}

func decodeNames(data []byte, names map[string]string) (any, error) {
	d := decoder{data: data, names: names}
	d.skipSpace()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(d.data) {
		return nil, d.invalid("after top-level value")
	}
	return v, nil
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\r', '\n':
			d.pos++
		default:
			return
		}
	}
}

// invalid reports the byte at d.pos, or the end of input, the way encoding/json does.
func (d *decoder) invalid(context string) error {
	if d.pos >= len(d.data) {
		// encoding/json feeds a space at the end of input: where a space is
		// not allowed the error names it, elsewhere the input just ends early.
		if strings.Contains(context, "literal") || strings.Contains(context, "escape") {
			return &SyntaxError{Offset: int64(len(d.data)), Message: "invalid character ' ' " + context}
		}
		return &SyntaxError{Offset: int64(len(d.data)), Message: "unexpected end of JSON input"}
	}
	return &SyntaxError{Offset: int64(d.pos) + 1, Message: "invalid character " + quoteChar(d.data[d.pos]) + " " + context}
}

func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func (d *decoder) value() (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.invalid("")
	}
	switch c := d.data[d.pos]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		str, err := d.str(nil)
		if err != nil {
			return nil, err
		}
		return str, nil
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || isDigit(c) {
			return d.number()
		}
		return nil, d.invalid("looking for beginning of value")
	}
}

func (d *decoder) literal(word string) error {
	for i := 1; i < len(word); i++ {
		d.pos++
		if d.pos >= len(d.data) || d.data[d.pos] != word[i] {
			return d.invalid("in literal " + word + " (expecting " + quoteChar(word[i]) + ")")
		}
	}
	d.pos++
	return nil
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return d.invalid("exceeded max depth")
	}
	return nil
}

func (d *decoder) object() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // '{'
	m := map[string]any{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return m, nil
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.invalid("looking for beginning of object key string")
		}
		k, err := d.str(d.names)
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.invalid("after object key")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == ',' {
			d.pos++
			d.skipSpace()
			continue
		}
		if d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			d.depth--
			return m, nil
		}
		return nil, d.invalid("after object key:value pair")
	}
}

func (d *decoder) array() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // '['
	a := []any{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return a, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == ',' {
			d.pos++
			d.skipSpace()
			continue
		}
		if d.pos < len(d.data) && d.data[d.pos] == ']' {
			d.pos++
			d.depth--
			return a, nil
		}
		return nil, d.invalid("after array element")
	}
}

func (d *decoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
		if d.pos >= len(d.data) || !isDigit(d.data[d.pos]) {
			return nil, d.invalid("in numeric literal")
		}
	}
	if d.data[d.pos] == '0' {
		d.pos++
	} else {
		d.digits()
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if d.pos >= len(d.data) || !isDigit(d.data[d.pos]) {
			return nil, d.invalid("after decimal point in numeric literal")
		}
		d.digits()
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if d.pos >= len(d.data) || !isDigit(d.data[d.pos]) {
			return nil, d.invalid("in exponent of numeric literal")
		}
		d.digits()
	}
	return json.Number(d.data[start:d.pos]), nil
}

func (d *decoder) digits() {
	for d.pos < len(d.data) && isDigit(d.data[d.pos]) {
		d.pos++
	}
}

// str scans a string literal at d.pos and returns it unquoted. If names is not
// nil and holds the (escape-free) string, the stored copy is returned.
func (d *decoder) str(names map[string]string) (string, error) {
	d.pos++ // opening quote
	start := d.pos
	plain := true // no escapes, no invalid UTF-8
	for {
		if d.pos >= len(d.data) {
			return "", d.invalid("")
		}
		c := d.data[d.pos]
		switch {
		case c == '"':
			raw := d.data[start:d.pos]
			d.pos++
			if plain {
				if names != nil {
					if s, ok := names[string(raw)]; ok {
						return s, nil
					}
				}
				return string(raw), nil
			}
			return unquote(raw), nil
		case c == '\\':
			plain = false
			d.pos++
			if d.pos >= len(d.data) {
				return "", d.invalid("in string escape code")
			}
			switch d.data[d.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.pos++
			case 'u':
				d.pos++
				for i := 0; i < 4; i++ {
					if d.pos >= len(d.data) || !isHex(d.data[d.pos]) {
						return "", d.invalid("in \\u hexadecimal character escape")
					}
					d.pos++
				}
			default:
				return "", d.invalid("in string escape code")
			}
		case c < ' ':
			return "", d.invalid("in string literal")
		case c < utf8.RuneSelf:
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			d.pos += size
		}
	}
}

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// unquote decodes the escapes of an already scanned string body and coerces it to
// valid UTF-8, as encoding/json does.
func unquote(s []byte) string {
	b := make([]byte, 0, len(s)+utf8.UTFMax)
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			switch s[r] {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(s[r-1:])
				r += 5
				if utf16.IsSurrogate(rr) {
					if rr1 := getu4(s[r:]); rr1 >= 0 {
						if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
							b = utf8.AppendRune(b, dec)
							r += 6
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, s[r])
			}
			r++
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			b = utf8.AppendRune(b, rr)
			r += size
		}
	}
	return string(b)
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
