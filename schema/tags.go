package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// tagError is a problem with one item of a schema struct tag.
type tagError struct {
	keyword string
	msg     string
}

func (e *tagError) Error() string { return e.keyword + ": " + e.msg }

// tagItem is one keyword[=value] item of a schema tag.
type tagItem struct {
	key, value string
	hasValue   bool
}

// splitTag splits a schema tag into items. Items are separated by commas;
// "pattern=" and "description=" take the rest of the tag verbatim, commas
// included, so they must come last.
func splitTag(tag string) []tagItem {
	var items []tagItem
	for tag != "" {
		tag = strings.TrimLeft(tag, " ")
		var item string
		if strings.HasPrefix(tag, "pattern=") || strings.HasPrefix(tag, "description=") {
			item, tag = tag, ""
		} else {
			item, tag, _ = strings.Cut(tag, ",")
		}
		key, value, has := strings.Cut(item, "=")
		key = strings.TrimSpace(key)
		if key != "pattern" && key != "description" {
			value = strings.TrimSpace(value)
		}
		if key == "" && !has {
			continue // empty item
		}
		items = append(items, tagItem{key: key, value: value, hasValue: has})
	}
	return items
}

// applyTag applies a field's schema tag to its schema fs. It returns a non-nil
// required flag when the tag says "optional" or "required".
func applyTag(fs map[string]any, tag string) (*bool, error) {
	seen := map[string]bool{}
	var required *bool
	for _, it := range splitTag(tag) {
		if seen[it.key] {
			return nil, &tagError{it.key, "given more than once"}
		}
		seen[it.key] = true
		switch it.key {
		case "optional", "required":
			if it.hasValue {
				return nil, &tagError{it.key, "takes no value"}
			}
			if seen["optional"] && seen["required"] {
				return nil, &tagError{it.key, "optional and required exclude each other"}
			}
			r := it.key == "required"
			required = &r
		case "description":
			fs["description"] = it.value
		default:
			if err := applyKeyword(fs, it); err != nil {
				return nil, err
			}
		}
	}
	for _, target := range []map[string]any{fs, itemsOf(fs)} {
		for _, kw := range [][2]string{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
			if excl, base := kw[0], kw[1]; target[excl] == true && target[base] == nil {
				return nil, &tagError{excl, "needs " + base}
			}
		}
	}
	return required, nil
}

func itemsOf(fs map[string]any) map[string]any {
	if fs["type"] == "array" {
		items, _ := fs["items"].(map[string]any)
		return items
	}
	return nil
}

// keywordTypes lists the schema types each value keyword applies to.
func keywordTypes(key string) []string {
	switch key {
	case "minLength", "maxLength", "pattern", "format":
		return []string{"string"}
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
		return []string{"integer", "number"}
	case "minItems", "maxItems", "uniqueItems":
		return []string{"array"}
	case "enum":
		return []string{"string", "integer", "number", "boolean"}
	}
	return nil
}

func fits(s map[string]any, types []string) bool {
	for _, t := range types {
		if s["type"] == t {
			return true
		}
	}
	return false
}

// applyKeyword sets one value keyword on the field schema, or on the items of an
// array field when the keyword does not apply to arrays.
func applyKeyword(fs map[string]any, it tagItem) error {
	types := keywordTypes(it.key)
	if types == nil {
		return &tagError{it.key, "unknown keyword"}
	}
	target := fs
	if !fits(fs, types) {
		target = itemsOf(fs)
		if target == nil || !fits(target, types) {
			return &tagError{it.key, "does not apply to " + describe(fs)}
		}
	}
	v, err := keywordValue(target, it)
	if err != nil {
		return &tagError{it.key, err.Error()}
	}
	target[it.key] = v
	return nil
}

// describe names the JSON type of a schema for error messages.
func describe(s map[string]any) string {
	t, ok := s["type"].(string)
	if !ok {
		return "a value of any type"
	}
	if items := itemsOf(s); items != nil {
		if it, ok := items["type"].(string); ok {
			return "an array of " + it + " items"
		}
		return "an array"
	}
	if t == "integer" || t == "object" || t == "array" {
		return "an " + t
	}
	return "a " + t
}

// keywordValue parses the value of a keyword for a schema of the target's type.
func keywordValue(target map[string]any, it tagItem) (any, error) {
	switch it.key {
	case "exclusiveMinimum", "exclusiveMaximum", "uniqueItems":
		if !it.hasValue {
			return true, nil
		}
		switch it.value {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("value %q is not true or false", it.value)
	}
	if !it.hasValue || it.value == "" {
		return nil, fmt.Errorf("needs a value")
	}
	switch it.key {
	case "minLength", "maxLength", "minItems", "maxItems":
		n, err := strconv.Atoi(it.value)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("value %q is not a non-negative integer", it.value)
		}
		return json.Number(strconv.Itoa(n)), nil
	case "minimum", "maximum":
		if _, ok := parseDecimal(it.value); !ok {
			return nil, fmt.Errorf("value %q is not a JSON number", it.value)
		}
		return json.Number(it.value), nil
	case "pattern":
		if _, err := regexp.Compile(it.value); err != nil {
			return nil, fmt.Errorf("invalid regular expression: %v", err)
		}
		return it.value, nil
	case "format":
		return it.value, nil
	}
	// enum
	parts := strings.Split(it.value, "|")
	vals := make([]any, 0, len(parts))
	for i, p := range parts {
		var v any
		switch target["type"] {
		case "string":
			v = p
		case "boolean":
			b, err := strconv.ParseBool(p)
			if err != nil || (p != "true" && p != "false") {
				return nil, fmt.Errorf("value %q is not true or false", p)
			}
			v = b
		default:
			d, ok := parseDecimal(p)
			if !ok {
				return nil, fmt.Errorf("value %q is not a JSON number", p)
			}
			if target["type"] == "integer" && !d.isInteger() {
				return nil, fmt.Errorf("value %q is not an integer", p)
			}
			v = json.Number(p)
		}
		for _, prev := range vals[:i] {
			if jsonEqual(prev, v) {
				return nil, fmt.Errorf("value %q is listed twice", p)
			}
		}
		vals = append(vals, v)
	}
	return vals, nil
}
