package infra_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file checks synthesized templates against the CloudFormation
// resource specification as the AWS CDK ships it: the database of the npm
// package @aws-cdk/aws-service-spec (pinned in package.json, installed by
// npm ci), which the CDK generates its L1 constructs from. It is built from
// CloudFormation's resource provider schemas (the registry), so it knows
// every resource type, property, property type, required property and
// GetAtt attribute that CloudFormation does.

// serviceSpecPackage is the npm package that holds the specification.
const serviceSpecPackage = "@aws-cdk/aws-service-spec"

// cfnSpec is the part of the specification a template is checked against.
type cfnSpec struct {
	version   string
	resources map[string]*specResource // by CloudFormation type
	types     map[string]*specTypeDef  // by the database's $id
}

type specResource struct {
	CloudFormationType string                  `json:"cloudFormationType"`
	Properties         map[string]specProperty `json:"properties"`
	Attributes         map[string]specProperty `json:"attributes"`
}

type specTypeDef struct {
	ID         string                  `json:"$id"`
	Name       string                  `json:"name"`
	Properties map[string]specProperty `json:"properties"`
}

type specProperty struct {
	Type     specType `json:"type"`
	Required bool     `json:"required"`
}

// specType is a property's type: "string", "number", "integer", "boolean",
// "json" (any JSON object), "date-time", "null", "tag" ({Key, Value}),
// "array" and "map" (of Element), "ref" (a type definition) or "union" (of
// Types).
type specType struct {
	Type          string     `json:"type"`
	Element       *specType  `json:"element"`
	Types         []specType `json:"types"`
	AllowedValues []any      `json:"allowedValues"`
	Reference     struct {
		Ref string `json:"$ref"`
	} `json:"reference"`
}

var loadedSpec struct {
	once sync.Once
	spec *cfnSpec
	err  error
}

// specFile returns the specification database and the package's version,
// "" if the package is not installed.
func specFile(t *testing.T) (path, version string) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "node_modules", filepath.FromSlash(serviceSpecPackage))
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "", ""
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(data, &pkg); err != nil {
		t.Fatalf("%s/package.json: %v", serviceSpecPackage, err)
	}
	return filepath.Join(dir, "db.json.gz"), pkg.Version
}

// resourceSpec returns the specification, loaded once for all tests. It
// skips the test when the package is missing, except in CI.
func resourceSpec(t *testing.T) *cfnSpec {
	t.Helper()
	path, version := specFile(t)
	if path == "" {
		skipOrFail(t, "node_modules/"+serviceSpecPackage+" is missing: run `npm ci` at the repository root (it holds the CloudFormation resource specification)")
	}
	loadedSpec.once.Do(func() {
		start := time.Now()
		loadedSpec.spec, loadedSpec.err = loadSpec(path, version)
		if loadedSpec.err == nil {
			t.Logf("%s %s: %d resource types, %d property types, loaded in %s", serviceSpecPackage, version,
				len(loadedSpec.spec.resources), len(loadedSpec.spec.types), time.Since(start).Round(10*time.Millisecond))
		}
	})
	if loadedSpec.err != nil {
		t.Fatal(loadedSpec.err)
	}
	return loadedSpec.spec
}

func loadSpec(path, version string) (*cfnSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var db struct {
		Schema struct {
			Resource struct {
				Entities []*specResource `json:"entities"`
			} `json:"resource"`
			TypeDefinition struct {
				Entities []*specTypeDef `json:"entities"`
			} `json:"typeDefinition"`
		} `json:"schema"`
	}
	if err := json.NewDecoder(zr).Decode(&db); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := &cfnSpec{version: version, resources: map[string]*specResource{}, types: map[string]*specTypeDef{}}
	for _, r := range db.Schema.Resource.Entities {
		s.resources[r.CloudFormationType] = r
	}
	for _, d := range db.Schema.TypeDefinition.Entities {
		s.types[d.ID] = d
	}
	if len(s.resources) < 1000 || len(s.types) < 1000 {
		return nil, fmt.Errorf("%s: %d resource types and %d property types: not the specification this test expects", path, len(s.resources), len(s.types))
	}
	return s, nil
}

// checkAgainstSpec fails t with every problem validateTemplate finds in c.
func checkAgainstSpec(t *testing.T, c cfn) {
	t.Helper()
	spec := resourceSpec(t)
	problems := spec.validateTemplate(c)
	for _, p := range problems {
		t.Errorf("CloudFormation resource specification (%s %s): %s", serviceSpecPackage, spec.version, p)
	}
}

// pseudoParameters are the names Ref takes besides parameters and
// resources.
var pseudoParameters = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

var templateSections = map[string]bool{
	"AWSTemplateFormatVersion": true, "Description": true, "Metadata": true, "Parameters": true, "Rules": true,
	"Mappings": true, "Conditions": true, "Transform": true, "Resources": true, "Outputs": true,
}

var resourceKeys = map[string]bool{
	"Type": true, "Properties": true, "DependsOn": true, "Condition": true, "Metadata": true,
	"DeletionPolicy": true, "UpdateReplacePolicy": true, "CreationPolicy": true, "UpdatePolicy": true,
}

// templateCheck is one validation of one template.
type templateCheck struct {
	spec       *cfnSpec
	resources  map[string]map[string]any
	parameters map[string]bool
	conditions map[string]bool
	mappings   map[string]bool
	inRules    bool // checking Rules, which take their own functions
	problems   []string
}

func (v *templateCheck) addf(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// validateTemplate returns the ways in which c is not a template that
// CloudFormation accepts, as far as the specification tells: unknown
// sections, resource types, resource attributes and properties; missing
// required properties; values of the wrong type (a string where a list is
// expected, an unknown key in a property type, a value outside an
// enumeration); Refs to nothing; GetAtts of attributes the type does not
// have; DependsOn, Condition, Fn::If and Fn::FindInMap naming nothing;
// unknown intrinsic functions. Intrinsic functions stand for any value
// their result can be.
func (s *cfnSpec) validateTemplate(c cfn) []string {
	v := &templateCheck{spec: s, resources: map[string]map[string]any{}, parameters: map[string]bool{}, conditions: map[string]bool{}, mappings: map[string]bool{}}
	for k := range c {
		if !templateSections[k] {
			v.addf("unknown template section %q", k)
		}
	}
	resources, ok := c["Resources"].(map[string]any)
	if !ok || len(resources) == 0 {
		v.addf("no Resources")
	}
	for id, r := range resources {
		m, ok := r.(map[string]any)
		if !ok {
			v.addf("resource %s is %s, not an object", id, render(r))
			continue
		}
		v.resources[id] = m
	}
	for name, p := range asObject(c["Parameters"]) {
		v.parameters[name] = true
		if typ, _ := asObject(p)["Type"].(string); typ == "" {
			v.addf("parameter %s has no Type", name)
		}
	}
	for name := range asObject(c["Conditions"]) {
		v.conditions[name] = true
	}
	for name := range asObject(c["Mappings"]) {
		v.mappings[name] = true
	}
	for name, cond := range asObject(c["Conditions"]) {
		v.intrinsics("Conditions."+name, cond)
	}
	for _, name := range sortedKeys(asObject(c["Rules"])) {
		v.rule("Rules."+name, c["Rules"].(map[string]any)[name])
	}
	for _, id := range sortedKeys(v.resources) {
		v.resource(id, v.resources[id])
	}
	for name, o := range asObject(c["Outputs"]) {
		out := asObject(o)
		where := "Outputs." + name
		if _, ok := out["Value"]; !ok {
			v.addf("%s has no Value", where)
		}
		for k, val := range out {
			switch k {
			case "Value", "Export":
				v.intrinsics(where+"."+k, val)
			case "Description":
			case "Condition":
				v.condition(where, val)
			default:
				v.addf("%s: unknown key %q", where, k)
			}
		}
	}
	sort.Strings(v.problems)
	return v.problems
}

// rule checks a template rule: a RuleCondition and Assertions, in the
// functions that rules take.
func (v *templateCheck) rule(where string, r any) {
	v.inRules = true
	defer func() { v.inRules = false }()
	for k, val := range asObject(r) {
		switch k {
		case "RuleCondition":
			v.intrinsics(where+"."+k, val)
		case "Assertions":
			for i, a := range list(val) {
				aw := fmt.Sprintf("%s.Assertions[%d]", where, i)
				if _, ok := asObject(a)["Assert"]; !ok {
					v.addf("%s has no Assert", aw)
				}
				for ak, av := range asObject(a) {
					switch ak {
					case "Assert":
						v.intrinsics(aw+".Assert", av)
					case "AssertDescription":
					default:
						v.addf("%s: unknown key %q", aw, ak)
					}
				}
			}
		default:
			v.addf("%s: unknown key %q", where, k)
		}
	}
}

// jsonShapes are the JSON properties whose shape the specification leaves
// open (type "json") but whose service reads them as a known type: the
// check holds their values to that type. A Stage's RouteSettings is a map
// from route key to the type of its DefaultRouteSettings.
var jsonShapes = map[string]map[string]func(res *specResource) specType{
	"AWS::ApiGatewayV2::Stage": {"RouteSettings": func(res *specResource) specType {
		def := res.Properties["DefaultRouteSettings"].Type
		return specType{Type: "map", Element: &def}
	}},
}

func (v *templateCheck) resource(id string, r map[string]any) {
	where := "Resources." + id
	for k := range r {
		if !resourceKeys[k] {
			v.addf("%s: unknown resource attribute %q", where, k)
		}
	}
	for _, d := range list(r["DependsOn"]) {
		name, _ := d.(string)
		if _, ok := v.resources[name]; !ok || name == id {
			v.addf("%s: DependsOn %s, which is not another resource", where, render(d))
		}
	}
	if c, ok := r["Condition"]; ok {
		v.condition(where, c)
	}
	for _, k := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if p, ok := r[k]; ok {
			switch p {
			case "Delete", "Retain", "Snapshot", "RetainExceptOnCreate":
			default:
				v.addf("%s: %s %s", where, k, render(p))
			}
		}
	}
	typ, _ := r["Type"].(string)
	props, hasProps := r["Properties"]
	if hasProps {
		if _, ok := props.(map[string]any); !ok {
			v.addf("%s: Properties is %s, not an object", where, render(props))
			return
		}
	}
	where += ".Properties"
	if isCustomResource(typ) {
		// A custom resource's properties are its provider's; CloudFormation
		// requires only ServiceToken.
		if _, ok := asObject(props)["ServiceToken"]; !ok {
			v.addf("%s: custom resource %s has no ServiceToken", where, typ)
		}
		v.intrinsics(where, props)
		return
	}
	spec, ok := v.spec.resources[typ]
	if !ok {
		v.addf("%s: unknown resource type %q", "Resources."+id, typ)
		v.intrinsics(where, props)
		return
	}
	v.object(where, asObject(props), spec.Properties)
	for name, shape := range jsonShapes[typ] {
		if val, ok := asObject(props)[name]; ok {
			v.value(where+"."+name, val, shape(spec))
		}
	}
}

// isCustomResource reports whether typ is a custom resource, whose
// properties the specification does not describe.
func isCustomResource(typ string) bool {
	return strings.HasPrefix(typ, "Custom::") || typ == "AWS::CloudFormation::CustomResource"
}

// object checks the keys of obj against props: each known, each required
// present, each value of its type.
func (v *templateCheck) object(where string, obj map[string]any, props map[string]specProperty) {
	for _, name := range sortedKeys(obj) {
		p, ok := props[name]
		if !ok {
			v.addf("%s: unknown property %q", where, name)
			v.intrinsics(where+"."+name, obj[name])
			continue
		}
		v.value(where+"."+name, obj[name], p.Type)
	}
	for _, name := range sortedKeys(props) {
		if _, ok := obj[name]; props[name].Required && !ok {
			v.addf("%s: required property %q is missing", where, name)
		}
	}
}

// value checks that val can be of type t.
func (v *templateCheck) value(where string, val any, t specType) {
	if fn, ok := intrinsicName(val); ok {
		v.intrinsics(where, val)
		if fn == "Ref" && val.(map[string]any)[fn] == "AWS::NoValue" {
			return
		}
		if !canReturn(fn, t) {
			v.addf("%s: %s cannot return the %s the property takes", where, fn, t.describe())
		}
		return
	}
	switch t.Type {
	case "string", "date-time":
		s, ok := val.(string)
		if !ok {
			v.addf("%s: %s, want a string", where, render(val))
			return
		}
		v.allowed(where, s, t)
	case "integer":
		n, ok := val.(float64)
		if !ok || n != math.Trunc(n) {
			v.addf("%s: %s, want an integer", where, render(val))
			return
		}
		v.allowed(where, n, t)
	case "number":
		n, ok := val.(float64)
		if !ok {
			v.addf("%s: %s, want a number", where, render(val))
			return
		}
		v.allowed(where, n, t)
	case "boolean":
		if _, ok := val.(bool); !ok {
			v.addf("%s: %s, want a boolean", where, render(val))
		}
	case "null":
		if val != nil {
			v.addf("%s: %s, want null", where, render(val))
		}
	case "json":
		// Any JSON; CloudFormation still resolves intrinsic functions in it.
		v.intrinsics(where, val)
	case "tag":
		obj, ok := val.(map[string]any)
		if !ok {
			v.addf("%s: %s, want a tag {Key, Value}", where, render(val))
			return
		}
		str := specType{Type: "string"}
		v.object(where, obj, map[string]specProperty{"Key": {Type: str, Required: true}, "Value": {Type: str, Required: true}})
	case "array":
		items, ok := val.([]any)
		if !ok {
			v.addf("%s: %s, want a list", where, render(val))
			return
		}
		for i, item := range items {
			v.value(fmt.Sprintf("%s[%d]", where, i), item, *t.Element)
		}
	case "map":
		obj, ok := val.(map[string]any)
		if !ok {
			v.addf("%s: %s, want a map", where, render(val))
			return
		}
		for _, k := range sortedKeys(obj) {
			v.value(where+"."+k, obj[k], *t.Element)
		}
	case "ref":
		def, ok := v.spec.types[t.Reference.Ref]
		if !ok {
			v.addf("%s: the specification has no type %s", where, t.Reference.Ref)
			return
		}
		obj, ok := val.(map[string]any)
		if !ok {
			v.addf("%s: %s, want an object (%s)", where, render(val), def.Name)
			return
		}
		v.object(where, obj, def.Properties)
	case "union":
		var tried []string
		for _, u := range t.Types {
			try := &templateCheck{spec: v.spec, resources: v.resources, parameters: v.parameters, conditions: v.conditions, mappings: v.mappings}
			try.value(where, val, u)
			if len(try.problems) == 0 {
				return
			}
			tried = append(tried, try.problems...)
		}
		v.addf("%s: %s matches none of %s: %s", where, render(val), t.describe(), strings.Join(tried, "; "))
	default:
		v.addf("%s: the specification's type %q is unknown to this test", where, t.Type)
	}
}

// allowed checks a literal value against t's enumeration, if it has one.
func (v *templateCheck) allowed(where string, val any, t specType) {
	if len(t.AllowedValues) == 0 {
		return
	}
	for _, a := range t.AllowedValues {
		if a == val {
			return
		}
	}
	v.addf("%s: %s is not one of %s", where, canonicalJSON(val), canonicalJSON(t.AllowedValues))
}

func canonicalJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (t specType) describe() string {
	switch t.Type {
	case "array", "map":
		return t.Type + " of " + t.Element.describe()
	case "union":
		var s []string
		for _, u := range t.Types {
			s = append(s, u.describe())
		}
		return "(" + strings.Join(s, " | ") + ")"
	}
	return t.Type
}

// listFunctions return lists; stringFunctions return strings.
var (
	listFunctions   = map[string]bool{"Fn::GetAZs": true, "Fn::Split": true, "Fn::Cidr": true}
	stringFunctions = map[string]bool{"Fn::Join": true, "Fn::Sub": true, "Fn::Base64": true, "Fn::ImportValue": true, "Fn::ToJsonString": true}
)

// canReturn reports whether the intrinsic function fn can return a value
// of type t. Ref, Fn::GetAtt, Fn::If, Fn::Select and Fn::FindInMap can
// return anything.
func canReturn(fn string, t specType) bool {
	switch t.Type {
	case "array":
		return !stringFunctions[fn]
	case "string", "date-time", "integer", "number", "boolean":
		return !listFunctions[fn]
	case "ref", "map", "tag":
		return !listFunctions[fn] && !stringFunctions[fn]
	}
	return true
}

// intrinsicName returns the function of an intrinsic function call: an
// object with one key, Ref, Condition or Fn::*.
func intrinsicName(val any) (string, bool) {
	obj, ok := val.(map[string]any)
	if !ok || len(obj) != 1 {
		return "", false
	}
	for k := range obj {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, true
		}
	}
	return "", false
}

// intrinsics checks every intrinsic function call in val.
func (v *templateCheck) intrinsics(where string, val any) {
	switch val := val.(type) {
	case []any:
		for i, item := range val {
			v.intrinsics(fmt.Sprintf("%s[%d]", where, i), item)
		}
	case map[string]any:
		fn, ok := intrinsicName(val)
		if !ok {
			for _, k := range sortedKeys(val) {
				v.intrinsics(where+"."+k, val[k])
			}
			return
		}
		v.call(where, fn, val[fn])
	}
}

var subVariable = regexp.MustCompile(`\$\{([^}]*)\}`)

// call checks one intrinsic function call: the names it refers to and the
// shape of its arguments.
func (v *templateCheck) call(where, fn string, arg any) {
	args, _ := arg.([]any)
	wantArgs := func(n int) bool {
		if len(args) != n {
			v.addf("%s: %s takes a list of %d, got %s", where, fn, n, render(arg))
			return false
		}
		return true
	}
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			v.addf("%s: Ref of %s, want a name", where, render(arg))
			return
		}
		if v.inRules && !v.parameters[name] && !pseudoParameters[name] {
			v.addf("%s: Ref %s in a rule, which is no parameter", where, name)
			return
		}
		if _, isResource := v.resources[name]; !isResource && !v.parameters[name] && !pseudoParameters[name] {
			v.addf("%s: Ref %s, which is no resource, parameter or pseudo parameter", where, name)
		}
	case "Fn::GetAtt":
		var parts []string
		switch a := arg.(type) {
		case string:
			if i := strings.IndexByte(a, '.'); i > 0 {
				parts = []string{a[:i], a[i+1:]}
			}
		case []any:
			if len(a) == 2 {
				v.intrinsics(where, a[1])
				r, _ := a[0].(string)
				attr, _ := a[1].(string)
				if _, dynamic := intrinsicName(a[1]); dynamic {
					attr = "*"
				}
				parts = []string{r, attr}
			}
		}
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			v.addf("%s: Fn::GetAtt %s, want [resource, attribute]", where, render(arg))
			return
		}
		v.getAtt(where, parts[0], parts[1])
	case "Fn::Join":
		if wantArgs(2) {
			if _, ok := args[0].(string); !ok {
				v.addf("%s: Fn::Join delimiter %s, want a string", where, render(args[0]))
			}
			if _, ok := args[1].([]any); !ok {
				if _, isCall := intrinsicName(args[1]); !isCall {
					v.addf("%s: Fn::Join of %s, want a list", where, render(args[1]))
				}
			}
			v.intrinsics(where, args[1])
		}
	case "Fn::Sub":
		text, vars := "", map[string]any{}
		switch a := arg.(type) {
		case string:
			text = a
		case []any:
			if wantArgs(2) {
				text, _ = args[0].(string)
				vars, _ = args[1].(map[string]any)
				v.intrinsics(where, args[1])
			}
		default:
			v.addf("%s: Fn::Sub of %s", where, render(arg))
		}
		for _, m := range subVariable.FindAllStringSubmatch(text, -1) {
			name := m[1]
			if strings.HasPrefix(name, "!") {
				continue // ${!Literal}
			}
			if _, ok := vars[name]; ok {
				continue
			}
			if r, attr, ok := strings.Cut(name, "."); ok {
				v.getAtt(where, r, attr)
			} else {
				v.call(where, "Ref", name)
			}
		}
	case "Fn::Select":
		if wantArgs(2) {
			v.intrinsics(where, args)
		}
	case "Fn::Split":
		if wantArgs(2) {
			v.intrinsics(where, args[1])
		}
	case "Fn::If":
		if wantArgs(3) {
			v.condition(where, args[0])
			v.intrinsics(where, args[1:])
		}
	case "Fn::Equals":
		if wantArgs(2) {
			v.intrinsics(where, args)
		}
	case "Fn::And", "Fn::Or":
		if len(args) < 2 || len(args) > 10 {
			v.addf("%s: %s takes 2 to 10 conditions, got %s", where, fn, render(arg))
		}
		v.intrinsics(where, args)
	case "Fn::Not":
		if wantArgs(1) {
			v.intrinsics(where, args)
		}
	case "Condition":
		v.condition(where, arg)
	case "Fn::FindInMap":
		if len(args) < 3 {
			v.addf("%s: Fn::FindInMap %s, want [map, key, key]", where, render(arg))
			return
		}
		if name, ok := args[0].(string); ok && !v.mappings[name] {
			v.addf("%s: Fn::FindInMap of mapping %s, which the template does not have", where, name)
		}
		v.intrinsics(where, args)
	case "Fn::Base64", "Fn::ImportValue", "Fn::GetAZs", "Fn::Cidr", "Fn::Length", "Fn::ToJsonString":
		v.intrinsics(where, arg)
	case "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll":
		if !v.inRules {
			v.addf("%s: %s is a function of Rules only", where, fn)
		}
		v.intrinsics(where, arg)
	default:
		v.addf("%s: unknown intrinsic function %s", where, fn)
	}
}

// getAtt checks that resource id exists and its type has attribute attr
// ("*": computed by another intrinsic function).
func (v *templateCheck) getAtt(where, id, attr string) {
	r, ok := v.resources[id]
	if !ok {
		v.addf("%s: Fn::GetAtt of %s, which is no resource", where, id)
		return
	}
	typ, _ := r["Type"].(string)
	if isCustomResource(typ) || attr == "*" {
		return
	}
	spec, ok := v.spec.resources[typ]
	if !ok {
		return // reported with the resource
	}
	if _, ok := spec.Attributes[attr]; !ok {
		v.addf("%s: Fn::GetAtt %s.%s: %s has no attribute %s (it has %s)", where, id, attr, typ, attr, strings.Join(sortedKeys(spec.Attributes), ", "))
	}
}

// condition checks that a condition name names a condition.
func (v *templateCheck) condition(where string, name any) {
	if s, ok := name.(string); !ok || !v.conditions[s] {
		v.addf("%s: condition %s, which the template does not define", where, render(name))
	}
}

func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
