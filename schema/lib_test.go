package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// This file holds the test oracle: the jsonschema library
// (santhosh-tekuri/jsonschema, draft-04 mode), which the package's own
// validator must agree with. Only tests link it, so every build, the AWS
// Lambda one included, validates with the same code.

// libSchemas caches the library's compilation of each schema under test.
var libSchemas sync.Map // *Schema -> libCompiled

type libCompiled struct {
	lib *jsonschema.Schema
	err error
}

// resourceURL names the in-memory schema document inside the compiler. Its
// scheme has no loader, so nothing is ever fetched.
const resourceURL = "mem:///mullet/schema.json"

func compileLib(raw []byte) (lib *jsonschema.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			lib, err = nil, &InvalidSchemaError{Message: fmt.Sprint(r)}
		}
	}()
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft4
	c.LoadURL = func(u string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("external reference %q is not supported", u)
	}
	if err := c.AddResource(resourceURL, bytes.NewReader(raw)); err != nil {
		return nil, &InvalidSchemaError{Message: err.Error(), Err: err}
	}
	lib, err = c.Compile(resourceURL)
	if err != nil {
		return nil, schemaError(err)
	}
	return lib, nil
}

// schemaError turns a compiler error into an *InvalidSchemaError that points at
// the offending part of the schema.
func schemaError(err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		msg := err.Error()
		var se *jsonschema.SchemaError
		if errors.As(err, &se) && se.Err != nil {
			msg = se.Err.Error()
		}
		return &InvalidSchemaError{Message: strings.TrimPrefix(msg, "jsonschema: "), Err: err}
	}
	var leaves []*jsonschema.ValidationError
	collectLib(ve, &leaves)
	sort.SliceStable(leaves, func(i, j int) bool {
		a, b := leaves[i], leaves[j]
		if da, db := strings.Count(a.InstanceLocation, "/"), strings.Count(b.InstanceLocation, "/"); da != db {
			return da > db
		}
		if a.InstanceLocation != b.InstanceLocation {
			return a.InstanceLocation < b.InstanceLocation
		}
		return a.KeywordLocation < b.KeywordLocation
	})
	l := leaves[0]
	return &InvalidSchemaError{Pointer: pointer(libTokens(l.InstanceLocation)), Message: l.Message, Err: err}
}

func collectLib(ve *jsonschema.ValidationError, out *[]*jsonschema.ValidationError) {
	if len(ve.Causes) == 0 {
		*out = append(*out, ve)
		return
	}
	for _, c := range ve.Causes {
		collectLib(c, out)
	}
}

// validateLib validates with the library and converts its error the way the
// package reports failures.
func (s *Schema) validateLib(doc any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("schema: cannot validate document: %v", r)
		}
	}()
	c, ok := libSchemas.Load(s)
	if !ok {
		lib, err := compileLib(s.raw)
		c, _ = libSchemas.LoadOrStore(s, libCompiled{lib, err})
	}
	lc := c.(libCompiled)
	if lc.err != nil {
		return fmt.Errorf("schema: cannot validate document: %w", lc.err)
	}
	err = lc.lib.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("schema: cannot validate document: %w", err)
	}
	var libLeaves []*jsonschema.ValidationError
	collectLib(ve, &libLeaves)
	leaves := make([]leaf, 0, len(libLeaves))
	for _, l := range libLeaves {
		leaves = append(leaves, s.convertLeaf(l, doc))
	}
	return pick(leaves)
}

// convertLeaf turns one library failure into a leaf, rewriting the messages whose
// library wording is not deterministic or not precise enough.
func (s *Schema) convertLeaf(l *jsonschema.ValidationError, doc any) leaf {
	inst := libTokens(l.InstanceLocation)
	kw := libTokens(l.KeywordLocation)
	out := leaf{path: pointer(inst), keyword: keywordOf(kw), message: l.Message}

	_, frag, _ := strings.Cut(l.AbsoluteKeywordLocation, "#")
	abs := libTokens(frag)
	if len(abs) == 0 {
		return out
	}
	sch, ok := lookup(s.doc, abs[:len(abs)-1]).(map[string]any)
	if !ok {
		return out
	}
	switch out.keyword {
	case "required":
		obj, ok1 := lookup(doc, inst).(map[string]any)
		req, ok2 := sch["required"].([]any)
		if !ok1 || !ok2 {
			break
		}
		var missing []string
		for _, r := range req {
			if name, ok := r.(string); ok {
				if _, ok := obj[name]; !ok {
					missing = append(missing, name)
				}
			}
		}
		if len(missing) > 0 {
			out.message = requiredMessage(missing)
		}
	case "additionalProperties":
		obj, ok := lookup(doc, inst).(map[string]any)
		if !ok {
			break
		}
		props, _ := sch["properties"].(map[string]any)
		patterns, _ := sch["patternProperties"].(map[string]any)
		var extra []string
	keys:
		for k := range obj {
			if _, ok := props[k]; ok {
				continue
			}
			for p := range patterns {
				if re, err := regexp.Compile(p); err == nil && re.MatchString(k) {
					continue keys
				}
			}
			extra = append(extra, k)
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			out.message = additionalMessage(extra)
		}
	case "enum":
		if vals, ok := sch["enum"].([]any); ok {
			out.message = enumMessage(vals)
		}
	}
	return out
}
