package schema

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Options controls schema derivation from Go types. A nil *Options means the
// defaults. For and Reflect never modify the Options they are given.
type Options struct {
	// AllowAdditionalProperties: when false (the default), derived object schemas
	// carry "additionalProperties": false, so unknown fields are rejected. It
	// applies to nested structs too. Maps always admit any key.
	AllowAdditionalProperties bool
	// Title, if set, becomes the top-level "title".
	Title string
	// ExtraProperties are added to the top-level object's "properties" (not
	// required), each value a literal JSON Schema. The framework uses it to admit
	// the route-selection field, e.g. {"action": {"type":"string"}} on a strict
	// schema. A property the type already declares keeps its derived schema.
	ExtraProperties map[string]json.RawMessage
}

// For derives a schema from the Go type T. See the package documentation for the
// mapping of types and struct tags. Errors are *DeriveError.
func For[T any](opts *Options) (*Schema, error) {
	return Reflect(reflect.TypeFor[T](), opts)
}

// MustFor is like For but panics if the schema cannot be derived. It is meant for
// package-level variables.
func MustFor[T any](opts *Options) *Schema {
	s, err := For[T](opts)
	if err != nil {
		panic(fmt.Errorf("schema.MustFor: %w", err))
	}
	return s
}

// Reflect derives a schema from t, like For. Errors are *DeriveError.
func Reflect(t reflect.Type, opts *Options) (*Schema, error) {
	if t == nil {
		return nil, &DeriveError{Message: "nil type"}
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	d := &deriver{root: t, allowExtra: o.AllowAdditionalProperties}
	m, err := d.typeSchema(t, "")
	if err != nil {
		return nil, err
	}
	if o.Title != "" {
		m["title"] = o.Title
	}
	if len(o.ExtraProperties) > 0 {
		if m["type"] != "object" {
			return nil, &DeriveError{Type: t, Message: "ExtraProperties needs an object schema, got " + compactJSON(m["type"])}
		}
		props, _ := m["properties"].(map[string]any)
		if props == nil {
			props = make(map[string]any, len(o.ExtraProperties))
			m["properties"] = props
		}
		names := make([]string, 0, len(o.ExtraProperties))
		for name := range o.ExtraProperties {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if _, ok := props[name]; ok {
				continue
			}
			v, err := decode(o.ExtraProperties[name])
			if err != nil {
				return nil, &DeriveError{Type: t, Message: "ExtraProperties[" + strconv.Quote(name) + "] is not valid JSON", Err: err}
			}
			if _, ok := v.(map[string]any); !ok {
				return nil, &DeriveError{Type: t, Message: "ExtraProperties[" + strconv.Quote(name) + "] is not a JSON object"}
			}
			props[name] = v
		}
	}
	s, err := compile(m, false)
	if err != nil {
		return nil, &DeriveError{Type: t, Message: "derived schema is invalid: " + err.Error(), Err: err}
	}
	return s, nil
}

// deriver holds the state of one Reflect call.
type deriver struct {
	root       reflect.Type
	allowExtra bool
	inProgress []reflect.Type // struct types being derived, to detect recursion
}

func (d *deriver) errorf(field, keyword, msg string) *DeriveError {
	return &DeriveError{Type: d.root, Field: field, Keyword: keyword, Message: msg}
}

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(iface))
}

// typeSchema returns the schema of t as a fresh map. field is the Go path used in
// errors.
func (d *deriver) typeSchema(t reflect.Type, field string) (map[string]any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	marshalerType := reflect.TypeFor[json.Marshaler]()
	textType := reflect.TypeFor[encoding.TextMarshaler]()
	switch {
	case t == reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}, nil
	case t == reflect.TypeFor[json.Number]():
		return map[string]any{"type": "number"}, nil
	case t == reflect.TypeFor[json.RawMessage](), t.Kind() == reflect.Interface, implements(t, marshalerType):
		return map[string]any{}, nil
	case implements(t, textType):
		return map[string]any{"type": "string"}, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return map[string]any{"type": "integer", "minimum": json.Number("0")}, nil
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 &&
			!implements(t.Elem(), marshalerType) && !implements(t.Elem(), textType) {
			return map[string]any{"type": "string"}, nil // []byte is base64 text
		}
		items, err := d.typeSchema(t.Elem(), field)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !implements(t.Key(), textType) {
				return nil, d.errorf(field, "", "unsupported map key type "+t.Key().String())
			}
		}
		values, err := d.typeSchema(t.Elem(), field)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "object", "additionalProperties": values}, nil
	case reflect.Struct:
		return d.structSchema(t, field)
	}
	return nil, d.errorf(field, "", "unsupported type "+t.String())
}

func (d *deriver) structSchema(t reflect.Type, path string) (map[string]any, error) {
	for _, p := range d.inProgress {
		if p == t {
			return nil, d.errorf(path, "", "recursive type "+t.String()+" is not supported")
		}
	}
	d.inProgress = append(d.inProgress, t)
	defer func() { d.inProgress = d.inProgress[:len(d.inProgress)-1] }()

	props := map[string]any{}
	var required []any
	for _, f := range jsonFields(t) {
		fpath := f.goName
		if path != "" {
			fpath = path + "." + f.goName
		}
		var fs map[string]any
		if f.quoted {
			fs = map[string]any{"type": "string"} // ",string" encodes the value as a JSON string
		} else {
			var err error
			if fs, err = d.typeSchema(f.typ, fpath); err != nil {
				return nil, err
			}
		}
		req := !f.omit && f.typ.Kind() != reflect.Pointer && !f.viaPointer
		tagReq, err := applyTag(fs, f.tag)
		if err != nil {
			var te *tagError
			if errors.As(err, &te) {
				return nil, d.errorf(fpath, te.keyword, te.msg)
			}
			return nil, d.errorf(fpath, "", err.Error())
		}
		if tagReq != nil {
			req = *tagReq
		}
		props[f.name] = fs
		if req {
			required = append(required, f.name)
		}
	}
	m := map[string]any{"type": "object"}
	if len(props) > 0 {
		m["properties"] = props
	}
	if len(required) > 0 {
		m["required"] = required
	}
	if !d.allowExtra {
		m["additionalProperties"] = false
	}
	return m, nil
}

// field is a struct field as encoding/json sees it.
type field struct {
	name       string // JSON name
	goName     string // dotted Go path from the struct being derived
	index      []int
	typ        reflect.Type
	tagged     bool // name given by a json tag
	omit       bool // omitempty or omitzero
	quoted     bool // ",string" option on a scalar
	viaPointer bool // promoted through an embedded pointer, so absent when it is nil
	tag        string
}

// jsonFields lists the fields encoding/json encodes for struct type t, in field
// order, applying its rules for embedded structs and name conflicts.
func jsonFields(t reflect.Type) []field {
	type embed struct {
		typ        reflect.Type
		index      []int
		goName     string
		viaPointer bool
	}
	var fields []field
	next := []embed{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current := next
		next = nil
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, e := range current {
			if visited[e.typ] {
				continue
			}
			visited[e.typ] = true
			for i := 0; i < e.typ.NumField(); i++ {
				sf := e.typ.Field(i)
				if sf.Anonymous {
					ft := sf.Type
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTagName(name) {
					name = ""
				}
				index := append(append([]int(nil), e.index...), i)
				goName := sf.Name
				if e.goName != "" {
					goName = e.goName + "." + sf.Name
				}
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					f := field{
						name:       name,
						goName:     goName,
						index:      index,
						typ:        sf.Type,
						tagged:     name != "",
						viaPointer: e.viaPointer,
						tag:        sf.Tag.Get("schema"),
					}
					if f.name == "" {
						f.name = sf.Name
					}
					for _, o := range strings.Split(opts, ",") {
						switch o {
						case "omitempty", "omitzero":
							f.omit = true
						case "string":
							switch ft.Kind() {
							case reflect.Bool,
								reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
								reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
								reflect.Float32, reflect.Float64, reflect.String:
								f.quoted = true
							}
						}
					}
					fields = append(fields, f)
					if count[e.typ] > 1 {
						// Two embeddings of the same type at one depth annihilate
						// each other's fields; a duplicate makes that happen below.
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, embed{typ: ft, index: index, goName: goName, viaPointer: e.viaPointer || sf.Type.Kind() == reflect.Pointer})
				}
			}
		}
	}

	sort.Slice(fields, func(i, j int) bool {
		a, b := fields[i], fields[j]
		if a.name != b.name {
			return a.name < b.name
		}
		if len(a.index) != len(b.index) {
			return len(a.index) < len(b.index)
		}
		if a.tagged != b.tagged {
			return a.tagged
		}
		return lessIndex(a.index, b.index)
	})
	out := fields[:0]
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		group := fields[i:j]
		if len(group) == 1 || len(group[0].index) < len(group[1].index) || group[0].tagged != group[1].tagged {
			out = append(out, group[0])
		}
		i = j
	}
	sort.Slice(out, func(i, j int) bool { return lessIndex(out[i].index, out[j].index) })
	return out
}

func lessIndex(a, b []int) bool {
	for k := 0; k < len(a) && k < len(b); k++ {
		if a[k] != b[k] {
			return a[k] < b[k]
		}
	}
	return len(a) < len(b)
}

// validTagName mirrors encoding/json's rule for usable json tag names.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}
