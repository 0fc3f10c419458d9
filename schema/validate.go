package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the validator. It covers every draft-04 keyword; for the
// subset that derived schemas use (and most hand-written ones): type, enum,
// format, properties, required, additionalProperties, items (single schema),
// minItems, maxItems, uniqueItems, minLength, maxLength, pattern, minimum,
// maximum, exclusiveMinimum and exclusiveMaximum, plus annotations, it walks
// the decoded document without allocating. It compares numbers exactly
// whatever their exponent, and produces the same failures and messages as
// the jsonschema library (tests check this, with the library as an oracle).

// kind is a bit set of JSON types.
type kind uint8

const (
	kNull kind = 1 << iota
	kBoolean
	kObject
	kArray
	kNumber
	kInteger
	kString
)

func kindOf(name string) kind {
	switch name {
	case "null":
		return kNull
	case "boolean":
		return kBoolean
	case "object":
		return kObject
	case "array":
		return kArray
	case "number":
		return kNumber
	case "integer":
		return kInteger
	case "string":
		return kString
	}
	return 0
}

// kindName names the JSON type of a value as the library does (integers are "number").
func kindName(k kind) string {
	switch {
	case k&kNumber != 0:
		return "number"
	case k&kNull != 0:
		return "null"
	case k&kBoolean != 0:
		return "boolean"
	case k&kObject != 0:
		return "object"
	case k&kArray != 0:
		return "array"
	}
	return "string"
}

// bound is a compiled minimum or maximum.
type bound struct {
	num       decimal
	exclusive bool
	text      string // the bound as the library prints it (via float64)
}

// node is one compiled schema object.
type node struct {
	types     kind // 0: any type
	typeNames []string
	enum      []any
	enumMsg   string

	format     func(any) bool
	formatName string

	props    map[string]*node
	required []string
	closed   bool  // additionalProperties: false
	addl     *node // additionalProperties: {schema}

	items              *node
	minItems, maxItems int
	unique             bool

	minLen, maxLen int
	pattern        *regexp.Regexp

	min, max *bound

	// The keywords below are outside the allocation-free subset; a schema
	// that uses any of them is still validated by this walker, with the
	// same results as the jsonschema library (tests check this).

	ref                 *node  // $ref; draft-04 ignores the other keywords next to it
	refTo               string // the $ref as written, until it is resolved
	allOf, anyOf, oneOf []*node
	not                 *node
	patterns            []patternSchema // patternProperties
	deps                []dependency    // dependencies, sorted by property name
	tuple               []*node         // items given as an array of schemas
	isTuple             bool
	addlItems           *node // additionalItems: {schema}, with a tuple
	closedItems         bool  // additionalItems: false, with a tuple
	minProps, maxProps  int
	multipleOf          *multiple
}

// patternSchema is one patternProperties member.
type patternSchema struct {
	re *regexp.Regexp
	n  *node
}

// dependency is one dependencies member: a schema or a list of properties
// that the object must also have when it has the property name.
type dependency struct {
	name  string
	n     *node
	props []string
}

// multiple is a compiled multipleOf.
type multiple struct {
	num  decimal
	text string // as the library prints it (via float64)
}

// compiler compiles one schema document. Subschemas are compiled once per
// location, so that "$ref" can point anywhere in the document, itself
// included.
type compiler struct {
	root   any
	at     map[string]*node // by JSON pointer
	ext    bool             // the document uses keywords outside the subset
	failed bool             // the document has a shape compileNode cannot take
}

// compileNode compiles a schema object already checked against the
// metaschema. It reports false if the schema uses anything the
// allocation-free subset does not cover.
func compileNode(v any) (*node, bool) {
	c := compiler{root: v, at: map[string]*node{}}
	n := c.compile(v, "")
	if c.failed || c.ext {
		return nil, false
	}
	return n, true
}

// compileFull compiles a schema document, using every draft-04 keyword. It
// returns an *InvalidSchemaError for a document it cannot compile, such as a
// $ref to a location outside it.
func compileFull(v any) (*node, error) {
	c := compiler{root: v, at: map[string]*node{}}
	n := c.compile(v, "")
	if c.failed {
		return nil, &InvalidSchemaError{Message: "schema shape not supported"}
	}
	if err := c.resolve(); err != nil {
		return nil, err
	}
	if n.loops() {
		return nil, &InvalidSchemaError{Message: "$ref loops back to the same value without descending into it"}
	}
	return n, nil
}

// compile compiles the schema v found at JSON pointer ptr, once.
func (c *compiler) compile(v any, ptr string) *node {
	if n, ok := c.at[ptr]; ok {
		return n
	}
	n := &node{minItems: -1, maxItems: -1, minLen: -1, maxLen: -1, minProps: -1, maxProps: -1}
	c.at[ptr] = n
	if !c.fill(n, v, ptr) {
		c.failed = true
	}
	return n
}

func (c *compiler) fill(n *node, v any, ptr string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if r, ok := m["$ref"]; ok {
		ref, ok := r.(string)
		if !ok {
			return false
		}
		c.ext = true
		n.refTo = ref
		return true
	}
	var exclMin, exclMax bool
	for k, x := range m {
		switch k {
		case "$schema", "id", "title", "description", "default":
			// annotations
		case "type":
			switch t := x.(type) {
			case string:
				n.typeNames = []string{t}
			case []any:
				for _, e := range t {
					name, ok := e.(string)
					if !ok {
						return false
					}
					n.typeNames = append(n.typeNames, name)
				}
			default:
				return false
			}
			for _, name := range n.typeNames {
				kd := kindOf(name)
				if kd == 0 {
					return false
				}
				n.types |= kd
			}
		case "enum":
			e, ok := x.([]any)
			if !ok || len(e) == 0 {
				return false
			}
			for _, v := range e {
				if !isJSONValue(v) {
					return false
				}
			}
			n.enum, n.enumMsg = e, enumMessage(e)
		case "format":
			name, ok := x.(string)
			if !ok {
				return false
			}
			n.format, n.formatName = formatChecker(name), name
		case "properties":
			pm, ok := x.(map[string]any)
			if !ok {
				return false
			}
			n.props = make(map[string]*node, len(pm))
			for name, ps := range pm {
				n.props[name] = c.compile(ps, ptr+"/properties/"+escapeToken(name))
			}
		case "required":
			r, ok := x.([]any)
			if !ok {
				return false
			}
			for _, e := range r {
				name, ok := e.(string)
				if !ok {
					return false
				}
				n.required = append(n.required, name)
			}
		case "additionalProperties":
			switch a := x.(type) {
			case bool:
				n.closed = !a
			case map[string]any:
				n.addl = c.compile(a, ptr+"/additionalProperties")
			default:
				return false
			}
		case "items":
			switch it := x.(type) {
			case []any:
				c.ext = true
				n.isTuple = true
				for i, e := range it {
					n.tuple = append(n.tuple, c.compile(e, ptr+"/items/"+strconv.Itoa(i)))
				}
			default:
				n.items = c.compile(x, ptr+"/items")
			}
		case "additionalItems":
			c.ext = true
			switch a := x.(type) {
			case bool:
				n.closedItems = !a
			case map[string]any:
				n.addlItems = c.compile(a, ptr+"/additionalItems")
			default:
				return false
			}
		case "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties":
			num, ok := x.(json.Number)
			if !ok {
				return false
			}
			i, err := strconv.Atoi(string(num))
			if err != nil || i < 0 {
				return false
			}
			switch k {
			case "minItems":
				n.minItems = i
			case "maxItems":
				n.maxItems = i
			case "minLength":
				n.minLen = i
			case "maxLength":
				n.maxLen = i
			case "minProperties":
				c.ext = true
				n.minProps = i
			default:
				c.ext = true
				n.maxProps = i
			}
		case "uniqueItems":
			if n.unique, ok = x.(bool); !ok {
				return false
			}
		case "pattern":
			p, ok := x.(string)
			if !ok {
				return false
			}
			re, err := regexp.Compile(p)
			if err != nil {
				return false
			}
			n.pattern = re
		case "minimum", "maximum":
			b, ok := newBound(x)
			if !ok {
				return false
			}
			if k == "minimum" {
				n.min = b
			} else {
				n.max = b
			}
		case "exclusiveMinimum", "exclusiveMaximum":
			e, ok := x.(bool)
			if !ok {
				return false
			}
			if k == "exclusiveMinimum" {
				exclMin = e
			} else {
				exclMax = e
			}
		case "multipleOf":
			c.ext = true
			b, ok := newBound(x)
			if !ok || b.num.sign() <= 0 {
				return false
			}
			n.multipleOf = &multiple{num: b.num, text: b.text}
		case "allOf", "anyOf", "oneOf":
			c.ext = true
			list, ok := x.([]any)
			if !ok || len(list) == 0 {
				return false
			}
			var subs []*node
			for i, e := range list {
				subs = append(subs, c.compile(e, ptr+"/"+k+"/"+strconv.Itoa(i)))
			}
			switch k {
			case "allOf":
				n.allOf = subs
			case "anyOf":
				n.anyOf = subs
			default:
				n.oneOf = subs
			}
		case "not":
			c.ext = true
			n.not = c.compile(x, ptr+"/not")
		case "patternProperties":
			c.ext = true
			pm, ok := x.(map[string]any)
			if !ok {
				return false
			}
			names := make([]string, 0, len(pm))
			for p := range pm {
				names = append(names, p)
			}
			sort.Strings(names)
			for _, p := range names {
				re, err := regexp.Compile(p)
				if err != nil {
					return false
				}
				n.patterns = append(n.patterns, patternSchema{re: re, n: c.compile(pm[p], ptr+"/patternProperties/"+escapeToken(p))})
			}
		case "dependencies":
			c.ext = true
			dm, ok := x.(map[string]any)
			if !ok {
				return false
			}
			for name, d := range dm {
				dep := dependency{name: name}
				switch dv := d.(type) {
				case []any:
					for _, e := range dv {
						p, ok := e.(string)
						if !ok {
							return false
						}
						dep.props = append(dep.props, p)
					}
				default:
					dep.n = c.compile(dv, ptr+"/dependencies/"+escapeToken(name))
				}
				n.deps = append(n.deps, dep)
			}
			sort.Slice(n.deps, func(i, j int) bool { return n.deps[i].name < n.deps[j].name })
		case "definitions":
			c.ext = true
			dm, ok := x.(map[string]any)
			if !ok {
				return false
			}
			for name, d := range dm {
				c.compile(d, ptr+"/definitions/"+escapeToken(name))
			}
		default:
			// Unknown keywords are annotations in draft-04; the subset
			// leaves such schemas to the complete walker all the same.
			c.ext = true
		}
	}
	if n.min != nil {
		n.min.exclusive = exclMin
	}
	if n.max != nil {
		n.max.exclusive = exclMax
	}
	return true
}

// resolve points every $ref at its target, compiling targets that are not
// schemas the document declares (any JSON pointer inside the document may
// be a target).
func (c *compiler) resolve() error {
	for {
		var pending []*node
		for _, n := range c.at {
			if n.refTo != "" && n.ref == nil {
				pending = append(pending, n)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		for _, n := range pending {
			ref := n.refTo
			frag, ok := strings.CutPrefix(ref, "#")
			if !ok {
				return &InvalidSchemaError{Message: fmt.Sprintf("external reference %q is not supported", ref)}
			}
			if frag != "" && !strings.HasPrefix(frag, "/") {
				return &InvalidSchemaError{Message: fmt.Sprintf("reference %q: only JSON pointers inside the document are supported", ref)}
			}
			tokens := libTokens(frag)
			target := lookup(c.root, tokens)
			if _, isObj := target.(map[string]any); !isObj {
				return &InvalidSchemaError{Message: fmt.Sprintf("reference %q not found", ref)}
			}
			n.ref = c.compile(target, pointer(tokens))
			if c.failed {
				return &InvalidSchemaError{Message: fmt.Sprintf("reference %q: not a schema", ref)}
			}
		}
	}
}

// loops reports whether validating some value against n could come back to
// the same schema for the same value ($ref, allOf, anyOf, oneOf, not and
// schema dependencies apply in place), which would never end.
func (n *node) loops() bool {
	state := map[*node]int{} // 1: on the current in-place path, 2: done
	var visit func(*node) bool
	visit = func(x *node) bool {
		switch state[x] {
		case 1:
			return true
		case 2:
			return false
		}
		state[x] = 1
		for _, y := range x.inPlace() {
			if visit(y) {
				return true
			}
		}
		state[x] = 2
		return false
	}
	seen := map[*node]bool{}
	var all func(*node) bool
	all = func(x *node) bool {
		if x == nil || seen[x] {
			return false
		}
		seen[x] = true
		if visit(x) {
			return true
		}
		for _, y := range x.children() {
			if all(y) {
				return true
			}
		}
		return false
	}
	return all(n)
}

// inPlace returns the subschemas that apply to the same value as n.
func (n *node) inPlace() []*node {
	var out []*node
	for _, y := range []*node{n.ref, n.not} {
		if y != nil {
			out = append(out, y)
		}
	}
	out = append(out, n.allOf...)
	out = append(out, n.anyOf...)
	out = append(out, n.oneOf...)
	for _, d := range n.deps {
		if d.n != nil {
			out = append(out, d.n)
		}
	}
	return out
}

// children returns every subschema of n.
func (n *node) children() []*node {
	out := n.inPlace()
	for _, y := range n.props {
		out = append(out, y)
	}
	for _, y := range []*node{n.addl, n.items, n.addlItems} {
		if y != nil {
			out = append(out, y)
		}
	}
	out = append(out, n.tuple...)
	for _, p := range n.patterns {
		out = append(out, p.n)
	}
	return out
}

// collectKeys adds the property names of n and its subschemas to keys.
func (n *node) collectKeys(keys map[string]string) {
	for name, p := range n.props {
		keys[name] = name
		p.collectKeys(keys)
	}
	for _, c := range []*node{n.addl, n.items} {
		if c != nil {
			c.collectKeys(keys)
		}
	}
}

func newBound(x any) (*bound, bool) {
	num, ok := x.(json.Number)
	if !ok {
		return nil, false
	}
	d, ok := parseDecimal(string(num))
	if !ok {
		return nil, false
	}
	// Messages show the bound as the library does: converted to float64.
	var f float64
	if r, ok := new(big.Rat).SetString(string(num)); ok {
		f, _ = r.Float64()
	} else {
		f, _ = strconv.ParseFloat(string(num), 64) // exponent too large for big.Rat: ±Inf or ±0
	}
	return &bound{num: d, text: fmt.Sprint(f)}, true
}

// walker validates one document. In check mode (collect false) it stops at the
// first failure and never allocates; in collect mode it records every failure
// with its path, like the library does.
type walker struct {
	collect     bool
	unsupported bool // the document holds a value the fast validator does not handle
	path        []string
	leaves      []leaf
}

func (w *walker) fail(keyword, format string, args ...any) {
	w.leaves = append(w.leaves, leaf{path: pointer(w.path), keyword: keyword, message: fmt.Sprintf(format, args...)})
}

// validate reports whether v satisfies n.
func (w *walker) validate(n *node, v any) bool {
	if n.ref != nil {
		return w.validate(n.ref, v)
	}
	var k kind
	var num decimal
	switch x := v.(type) {
	case nil:
		k = kNull
	case bool:
		k = kBoolean
	case string:
		k = kString
	case json.Number:
		d, ok := parseDecimal(string(x))
		if !ok {
			w.unsupported = true
			return false
		}
		num, k = d, kNumber
		if d.isInteger() {
			k |= kInteger
		}
	case map[string]any:
		k = kObject
	case []any:
		k = kArray
	default:
		w.unsupported = true
		return false
	}
	if n.types != 0 && n.types&k == 0 {
		if w.collect {
			w.fail("type", "expected %s, but got %s", strings.Join(n.typeNames, " or "), kindName(k))
		}
		return false
	}
	ok := true
	if n.enum != nil && !inEnum(n.enum, v) {
		if !isJSONValue(v) {
			w.unsupported = true
			return false
		}
		if !w.collect {
			return false
		}
		ok = false
		w.fail("enum", "%s", n.enumMsg)
	}
	if n.format != nil && !n.format(v) {
		if !w.collect {
			return false
		}
		ok = false
		if s, isStr := v.(string); isStr {
			w.fail("format", "%s is not valid %s", libQuote(s), libQuote(n.formatName))
		} else {
			w.fail("format", "%v is not valid %s", v, libQuote(n.formatName))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		ok = w.checkObject(n, x) && ok
	case []any:
		ok = w.checkArray(n, x) && ok
	case string:
		ok = w.checkString(n, x) && ok
	case json.Number:
		ok = w.checkNumber(n, &num, x) && ok
	}
	if !ok && !w.collect {
		return false
	}
	if n.not != nil || n.allOf != nil || n.anyOf != nil || n.oneOf != nil {
		ok = w.applicators(n, v) && ok
	}
	return ok
}

// matches reports whether v satisfies n, without recording failures.
func (w *walker) matches(n *node, v any) bool {
	sub := walker{}
	ok := sub.validate(n, v)
	if sub.unsupported {
		w.unsupported = true
	}
	return ok
}

// applicators checks not, allOf, anyOf and oneOf. Like the library, a
// failed allOf, anyOf or oneOf reports the failures of its subschemas.
func (w *walker) applicators(n *node, v any) bool {
	ok := true
	if n.not != nil && w.matches(n.not, v) {
		if !w.collect {
			return false
		}
		ok = false
		w.fail("not", "not failed")
	}
	for _, sub := range n.allOf {
		if !w.validate(sub, v) {
			if !w.collect {
				return false
			}
			ok = false
		}
	}
	if n.anyOf != nil {
		matched := false
		for _, sub := range n.anyOf {
			if w.matches(sub, v) {
				matched = true
				break
			}
		}
		if !matched {
			if !w.collect {
				return false
			}
			ok = false
			for _, sub := range n.anyOf {
				w.validate(sub, v)
			}
		}
	}
	if n.oneOf != nil {
		first := -1
		for i, sub := range n.oneOf {
			if !w.matches(sub, v) {
				continue
			}
			if first >= 0 {
				if !w.collect {
					return false
				}
				ok = false
				w.fail("oneOf", "valid against schemas at indexes %d and %d", first, i)
				break
			}
			first = i
		}
		if first < 0 {
			if !w.collect {
				return false
			}
			ok = false
			for _, sub := range n.oneOf {
				w.validate(sub, v)
			}
		}
	}
	return ok
}

func (w *walker) checkObject(n *node, obj map[string]any) bool {
	ok := true
	if n.minProps >= 0 && len(obj) < n.minProps {
		if !w.collect {
			return false
		}
		ok = false
		w.fail("minProperties", "minimum %d properties allowed, but found %d properties", n.minProps, len(obj))
	}
	if n.maxProps >= 0 && len(obj) > n.maxProps {
		if !w.collect {
			return false
		}
		ok = false
		w.fail("maxProperties", "maximum %d properties allowed, but found %d properties", n.maxProps, len(obj))
	}
	var missing []string
	for _, name := range n.required {
		if _, found := obj[name]; !found {
			if !w.collect {
				return false
			}
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		ok = false
		w.leaves = append(w.leaves, leaf{path: pointer(w.path), keyword: "required", message: requiredMessage(missing)})
	}
	for _, d := range n.deps {
		if _, found := obj[d.name]; !found {
			continue
		}
		if d.n != nil {
			if !w.validate(d.n, obj) {
				if !w.collect {
					return false
				}
				ok = false
			}
			continue
		}
		for _, p := range d.props {
			if _, found := obj[p]; !found {
				if !w.collect {
					return false
				}
				ok = false
				w.fail("dependencies", "property %s is required, if %s property exists", libQuote(p), libQuote(d.name))
			}
		}
	}
	if n.props == nil && !n.closed && n.addl == nil && n.patterns == nil {
		return ok
	}
	var extra []string
	for name, v := range obj {
		sub, found := n.props[name]
		if found && !w.child(sub, v, name) {
			if !w.collect {
				return false
			}
			ok = false
		}
		for _, p := range n.patterns {
			if !p.re.MatchString(name) {
				continue
			}
			found = true
			if !w.child(p.n, v, name) {
				if !w.collect {
					return false
				}
				ok = false
			}
		}
		if found {
			continue
		}
		if n.closed {
			if !w.collect {
				return false
			}
			extra = append(extra, name)
			continue
		}
		if n.addl != nil && !w.child(n.addl, v, name) {
			if !w.collect {
				return false
			}
			ok = false
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		ok = false
		w.leaves = append(w.leaves, leaf{path: pointer(w.path), keyword: "additionalProperties", message: additionalMessage(extra)})
	}
	return ok
}

// child validates a member or element, tracking the path in collect mode.
func (w *walker) child(n *node, v any, token string) bool {
	if !w.collect {
		return w.validate(n, v)
	}
	w.path = append(w.path, token)
	ok := w.validate(n, v)
	w.path = w.path[:len(w.path)-1]
	return ok
}

// uniqueLimit is the array length above which uniqueItems uses hashing instead
// of comparing every pair.
const uniqueLimit = 20

func (w *walker) checkArray(n *node, arr []any) bool {
	ok := true
	if n.minItems >= 0 && len(arr) < n.minItems {
		if !w.collect {
			return false
		}
		ok = false
		w.fail("minItems", "minimum %d items required, but found %d items", n.minItems, len(arr))
	}
	if n.maxItems >= 0 && len(arr) > n.maxItems {
		if !w.collect {
			return false
		}
		ok = false
		w.fail("maxItems", "maximum %d items required, but found %d items", n.maxItems, len(arr))
	}
	if n.unique {
		if i, j, dup := w.duplicate(arr); dup {
			if !w.collect {
				return false
			}
			ok = false
			w.fail("uniqueItems", "items at index %d and %d are equal", i, j)
		} else if w.unsupported {
			return false
		}
	}
	if n.isTuple {
		for i, v := range arr {
			var sub *node
			switch {
			case i < len(n.tuple):
				sub = n.tuple[i]
			case n.addlItems != nil:
				sub = n.addlItems
			default:
				continue
			}
			var token string
			if w.collect {
				token = strconv.Itoa(i)
			}
			if !w.child(sub, v, token) {
				if !w.collect {
					return false
				}
				ok = false
			}
		}
		if n.closedItems && len(arr) > len(n.tuple) {
			if !w.collect {
				return false
			}
			ok = false
			w.fail("additionalItems", "only %d items are allowed, but found %d items", len(n.tuple), len(arr))
		}
	}
	if n.items != nil {
		for i, v := range arr {
			var token string
			if w.collect {
				token = strconv.Itoa(i)
			}
			if !w.child(n.items, v, token) {
				if !w.collect {
					return false
				}
				ok = false
			}
		}
	}
	return ok
}

// duplicate finds the first element equal to an earlier one and returns the
// index of the earliest equal element and its own index.
func (w *walker) duplicate(arr []any) (int, int, bool) {
	if len(arr) <= uniqueLimit {
		for j := 1; j < len(arr); j++ {
			for i := 0; i < j; i++ {
				if jsonEqual(arr[i], arr[j]) {
					return i, j, true
				}
			}
		}
		return 0, 0, false
	}
	seen := make(map[string]int, len(arr))
	var b []byte
	for j, v := range arr {
		var ok bool
		if b, ok = appendKey(b[:0], v); !ok {
			w.unsupported = true
			return 0, 0, false
		}
		if i, found := seen[string(b)]; found {
			return i, j, true
		}
		seen[string(b)] = j
	}
	return 0, 0, false
}

func (w *walker) checkString(n *node, s string) bool {
	ok := true
	if n.minLen >= 0 || n.maxLen >= 0 {
		length := utf8.RuneCountInString(s)
		if n.minLen >= 0 && length < n.minLen {
			if !w.collect {
				return false
			}
			ok = false
			w.fail("minLength", "length must be >= %d, but got %d", n.minLen, length)
		}
		if n.maxLen >= 0 && length > n.maxLen {
			if !w.collect {
				return false
			}
			ok = false
			w.fail("maxLength", "length must be <= %d, but got %d", n.maxLen, length)
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		if !w.collect {
			return false
		}
		ok = false
		w.fail("pattern", "does not match pattern %s", libQuote(n.pattern.String()))
	}
	return ok
}

func (w *walker) checkNumber(n *node, d *decimal, raw json.Number) bool {
	ok := true
	if b := n.min; b != nil {
		c := d.cmp(&b.num)
		if c < 0 || (b.exclusive && c == 0) {
			if !w.collect {
				return false
			}
			ok = false
			if b.exclusive {
				w.fail("exclusiveMinimum", "must be > %s but found %s", b.text, raw)
			} else {
				w.fail("minimum", "must be >= %s but found %s", b.text, raw)
			}
		}
	}
	if b := n.max; b != nil {
		c := d.cmp(&b.num)
		if c > 0 || (b.exclusive && c == 0) {
			if !w.collect {
				return false
			}
			ok = false
			if b.exclusive {
				w.fail("exclusiveMaximum", "must be < %s but found %s", b.text, raw)
			} else {
				w.fail("maximum", "must be <= %s but found %s", b.text, raw)
			}
		}
	}
	if m := n.multipleOf; m != nil && !d.multipleOf(&m.num) {
		if !w.collect {
			return false
		}
		ok = false
		w.fail("multipleOf", "%s not multipleOf %s", raw, m.text)
	}
	return ok
}

// isJSONValue reports whether v is made only of the types UseNumber decoding yields.
func isJSONValue(v any) bool {
	switch x := v.(type) {
	case nil, bool, string:
		return true
	case json.Number:
		_, ok := parseDecimal(string(x))
		return ok
	case []any:
		for _, e := range x {
			if !isJSONValue(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !isJSONValue(e) {
				return false
			}
		}
		return true
	}
	return false
}

func inEnum(enum []any, v any) bool {
	for _, e := range enum {
		if jsonEqual(e, v) {
			return true
		}
	}
	return false
}

// jsonEqual reports whether two decoded JSON values are equal, comparing numbers
// by value. Values of other Go types are never equal.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		dx, ok1 := parseDecimal(string(x))
		dy, ok2 := parseDecimal(string(y))
		return ok1 && ok2 && dx.cmp(&dy) == 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, found := y[k]
			if !found || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

// appendKey appends an encoding of v that is equal for two values exactly when
// jsonEqual holds. It reports false for values of other Go types.
func appendKey(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, 'n'), true
	case bool:
		if x {
			return append(b, 't'), true
		}
		return append(b, 'f'), true
	case string:
		b = append(b, 's')
		b = strconv.AppendInt(b, int64(len(x)), 10)
		b = append(b, ':')
		return append(b, x...), true
	case json.Number:
		d, ok := parseDecimal(string(x))
		if !ok {
			return b, false
		}
		b = append(b, 'd')
		if d.isZero() {
			return append(b, '0'), true
		}
		if d.neg {
			b = append(b, '-')
		}
		b = strconv.AppendInt(b, d.point, 10)
		b = append(b, 'e')
		for i := d.sig; i < d.end; i++ {
			b = append(b, d.digit(i))
		}
		return append(b, ';'), true
	case []any:
		b = append(b, 'a')
		b = strconv.AppendInt(b, int64(len(x)), 10)
		b = append(b, ':')
		for _, e := range x {
			var ok bool
			if b, ok = appendKey(b, e); !ok {
				return b, false
			}
		}
		return b, true
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, 'o')
		b = strconv.AppendInt(b, int64(len(x)), 10)
		b = append(b, ':')
		for _, k := range keys {
			b = strconv.AppendInt(b, int64(len(k)), 10)
			b = append(b, ':')
			b = append(b, k...)
			var ok bool
			if b, ok = appendKey(b, x[k]); !ok {
				return b, false
			}
		}
		return b, true
	}
	return b, false
}
