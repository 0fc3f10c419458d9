package schema

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// metaschemaJSON is the draft-04 metaschema
// (http://json-schema.org/draft-04/schema), with "format" on "pattern"
// ("regex"), "id" ("uri-reference") and "$schema" ("uri"), as the
// jsonschema library checks them. Patterns of patternProperties are checked
// by checkSchema.
const metaschemaJSON = `{
	"id": "http://json-schema.org/draft-04/schema#",
	"$schema": "http://json-schema.org/draft-04/schema#",
	"description": "Core schema meta-schema",
	"definitions": {
		"schemaArray": {"type": "array", "minItems": 1, "items": {"$ref": "#"}},
		"positiveInteger": {"type": "integer", "minimum": 0},
		"positiveIntegerDefault0": {"allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]},
		"simpleTypes": {"enum": ["array", "boolean", "integer", "null", "number", "object", "string"]},
		"stringArray": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true}
	},
	"type": "object",
	"properties": {
		"id": {"type": "string", "format": "uri-reference"},
		"$schema": {"type": "string", "format": "uri"},
		"title": {"type": "string"},
		"description": {"type": "string"},
		"default": {},
		"multipleOf": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
		"maximum": {"type": "number"},
		"exclusiveMaximum": {"type": "boolean", "default": false},
		"minimum": {"type": "number"},
		"exclusiveMinimum": {"type": "boolean", "default": false},
		"maxLength": {"$ref": "#/definitions/positiveInteger"},
		"minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
		"pattern": {"type": "string", "format": "regex"},
		"additionalItems": {"anyOf": [{"type": "boolean"}, {"$ref": "#"}], "default": {}},
		"items": {"anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/schemaArray"}], "default": {}},
		"maxItems": {"$ref": "#/definitions/positiveInteger"},
		"minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
		"uniqueItems": {"type": "boolean", "default": false},
		"maxProperties": {"$ref": "#/definitions/positiveInteger"},
		"minProperties": {"$ref": "#/definitions/positiveIntegerDefault0"},
		"required": {"$ref": "#/definitions/stringArray"},
		"additionalProperties": {"anyOf": [{"type": "boolean"}, {"$ref": "#"}], "default": {}},
		"definitions": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
		"properties": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
		"patternProperties": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
		"dependencies": {"type": "object", "additionalProperties": {"anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/stringArray"}]}},
		"enum": {"type": "array", "minItems": 1, "uniqueItems": true},
		"type": {"anyOf": [
			{"$ref": "#/definitions/simpleTypes"},
			{"type": "array", "items": {"$ref": "#/definitions/simpleTypes"}, "minItems": 1, "uniqueItems": true}
		]},
		"allOf": {"$ref": "#/definitions/schemaArray"},
		"anyOf": {"$ref": "#/definitions/schemaArray"},
		"oneOf": {"$ref": "#/definitions/schemaArray"},
		"not": {"$ref": "#"},
		"format": {"type": "string"},
		"$ref": {"type": "string"}
	},
	"dependencies": {
		"exclusiveMaximum": ["maximum"],
		"exclusiveMinimum": ["minimum"]
	},
	"default": {}
}`

// metaschema is the compiled draft-04 metaschema. It is compiled on first
// use, by the first literal schema: a program that only derives schemas
// from Go types (the common case in Lambda) never pays for it, and it is
// never modified once built.
var metaschema = sync.OnceValue(func() *node {
	v, err := decode([]byte(metaschemaJSON))
	if err != nil {
		panic("schema: the draft-04 metaschema does not parse: " + err.Error())
	}
	meta, err := compileFull(v)
	if err != nil {
		panic("schema: the draft-04 metaschema does not compile: " + err.Error())
	}
	return meta
})

// checkSchema checks a schema document against the draft-04 metaschema and
// checks the patterns of its patternProperties.
func checkSchema(doc map[string]any) error {
	meta := metaschema()
	w := walker{collect: true}
	if !w.validate(meta, doc) {
		// The most specific failure, ties in the order the metaschema's
		// keywords were checked (as the library breaks them).
		sort.SliceStable(w.leaves, func(i, j int) bool {
			a, b := w.leaves[i], w.leaves[j]
			if da, db := strings.Count(a.path, "/"), strings.Count(b.path, "/"); da != db {
				return da > db
			}
			return a.path < b.path
		})
		l := w.leaves[0]
		return &InvalidSchemaError{Pointer: l.path, Message: l.message}
	}
	return checkPatternProperties(doc, "")
}

// checkPatternProperties checks that every patternProperties name in the
// schema document v, found at pointer ptr, is a regular expression.
func checkPatternProperties(v any, ptr string) error {
	switch x := v.(type) {
	case map[string]any:
		if pp, ok := x["patternProperties"].(map[string]any); ok {
			names := make([]string, 0, len(pp))
			for name := range pp {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				if _, err := regexp.Compile(name); err != nil {
					return &InvalidSchemaError{Pointer: ptr + "/patternProperties", Message: fmt.Sprintf("patternProperty %s is not valid regex", libQuote(name)), Err: err}
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "enum" || k == "default" {
				continue // values, not schemas
			}
			if err := checkPatternProperties(x[k], ptr+"/"+escapeToken(k)); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := checkPatternProperties(e, fmt.Sprintf("%s/%d", ptr, i)); err != nil {
				return err
			}
		}
	}
	return nil
}
