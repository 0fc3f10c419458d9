package asyncapi

import (
	"encoding/json"
	"fmt"
)

// Draft07 converts a draft-04 JSON Schema (as API Gateway models and the
// schema package write them) to the draft-07 form AsyncAPI 3.0 payloads
// use. root is the JSON pointer (e.g. "#/components/schemas/Say") where
// the schema will sit in its document: local references ("#/...") are
// re-rooted there. The input is not modified.
func Draft07(draft04 json.RawMessage, root string) (map[string]any, error) {
	var v any
	if err := json.Unmarshal(draft04, &v); err != nil {
		return nil, fmt.Errorf("asyncapi: schema is not valid JSON: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("asyncapi: schema is not a JSON object")
	}
	out := convert(m, root)
	delete(out, "$schema")
	return out, nil
}

// subschemaMaps are keywords whose value maps names to schemas.
var subschemaMaps = []string{"properties", "patternProperties", "definitions", "dependencies"}

// subschemaLists are keywords whose value is a list of schemas.
var subschemaLists = []string{"allOf", "anyOf", "oneOf"}

// subschemas are keywords whose value is one schema (or, for items, a
// list; for additional*, possibly a boolean).
var subschemas = []string{"not", "items", "additionalItems", "additionalProperties"}

func convert(s map[string]any, root string) map[string]any {
	out := make(map[string]any, len(s))
	for k, v := range s {
		out[k] = v
	}
	if id, ok := out["id"].(string); ok {
		if _, has := out["$id"]; !has {
			out["$id"] = id
		}
		delete(out, "id")
	}
	delete(out, "$schema")
	for _, pair := range [][2]string{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
		ex, bound := pair[0], pair[1]
		b, isBool := out[ex].(bool)
		if !isBool {
			continue
		}
		delete(out, ex)
		if b {
			if n, ok := out[bound]; ok {
				out[ex] = n
				delete(out, bound)
			}
		}
	}
	if ref, ok := out["$ref"].(string); ok && len(ref) > 0 && ref[0] == '#' && root != "" {
		out["$ref"] = root + ref[1:]
	}
	for _, k := range subschemaMaps {
		m, ok := out[k].(map[string]any)
		if !ok {
			continue
		}
		c := make(map[string]any, len(m))
		for name, sub := range m {
			if sm, ok := sub.(map[string]any); ok {
				c[name] = convert(sm, root)
			} else {
				c[name] = sub // e.g. a property dependency's list of names
			}
		}
		out[k] = c
	}
	for _, k := range subschemaLists {
		if l, ok := out[k].([]any); ok {
			out[k] = convertList(l, root)
		}
	}
	for _, k := range subschemas {
		switch sub := out[k].(type) {
		case map[string]any:
			out[k] = convert(sub, root)
		case []any:
			out[k] = convertList(sub, root)
		}
	}
	return out
}

func convertList(l []any, root string) []any {
	c := make([]any, len(l))
	for i, sub := range l {
		if sm, ok := sub.(map[string]any); ok {
			c[i] = convert(sm, root)
		} else {
			c[i] = sub
		}
	}
	return c
}
