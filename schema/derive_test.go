package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Types used by the derivation tests.

type pairing struct {
	PairingName string `json:"pairing_name" schema:"minLength=1,maxLength=64,pattern=^[a-z][a-z0-9-]*$"`
	Action      string `json:"action"`
}

type scalars struct {
	S        string          `json:"s"`
	B        bool            `json:"b"`
	I        int             `json:"i"`
	I8       int8            `json:"i8"`
	I64      int64           `json:"i64"`
	U        uint            `json:"u"`
	U8       uint8           `json:"u8"`
	U64      uint64          `json:"u64"`
	F32      float32         `json:"f32"`
	F64      float64         `json:"f64"`
	Any      any             `json:"any"`
	Raw      json.RawMessage `json:"raw"`
	Num      json.Number     `json:"num"`
	T        time.Time       `json:"t"`
	Data     []byte          `json:"data"`
	Addr     netip.Addr      `json:"addr"` // encoding.TextMarshaler
	Q        int             `json:"q,string"`
	noJSON   int
	Skip     string `json:"-"`
	Dash     string `json:"-,"` // named "-"
	Untagged string
}

type containers struct {
	Strings []string        `json:"strings"`
	Fixed   [3]int          `json:"fixed"`
	Matrix  [][]float64     `json:"matrix"`
	ByName  map[string]item `json:"by_name"`
	ByID    map[int]string  `json:"by_id"`
	Ptr     *item           `json:"ptr"`
	PtrList []*item         `json:"ptr_list"`
}

type item struct {
	Name  string `json:"name"`
	Count int    `json:"count,omitempty"`
}

type tagged struct {
	Name     string   `json:"name" schema:"minLength=1,maxLength=64,pattern=^[a-z]+(,[a-z]+)*$"`
	Kind     string   `json:"kind" schema:"enum=user|admin,description=Role, as shown in the UI"`
	Level    int      `json:"level" schema:"enum=1|2|3"`
	Ratio    float64  `json:"ratio" schema:"minimum=0,maximum=1,exclusiveMaximum"`
	Above    int      `json:"above" schema:"minimum=-5,exclusiveMinimum=true,maximum=5,exclusiveMaximum=false"`
	Count    uint     `json:"count" schema:"maximum=10"`
	Positive uint     `json:"positive" schema:"exclusiveMinimum"`
	Flag     bool     `json:"flag" schema:"enum=true"`
	Tags     []string `json:"tags" schema:"minItems=1,maxItems=5,uniqueItems,maxLength=32"`
	Scores   []int    `json:"scores" schema:"maximum=100,uniqueItems=false"`
	Email    string   `json:"email" schema:"format=email"`
	Note     string   `json:"note,omitempty" schema:"required"`
	Opt      string   `json:"opt" schema:"optional"`
	Ptr      *string  `json:"ptr" schema:" required , maxLength=3"`
	Zero     string   `json:"zero,omitzero"`
	Desc     item     `json:"desc" schema:"description=An item"`
}

type Base struct {
	ID      string `json:"id"`
	Created string `json:"created"`
}

type Extra struct {
	Note string `json:"note"`
}

type embedded struct {
	Base
	*Extra
	Name    string `json:"name"`
	Created int    `json:"created"` // shallower, wins over Base.Created
	Inner   Base   `json:"inner"`   // tagged embedded-like field: not flattened
}

type conflictA struct{ X string }
type conflictB struct{ X string }
type conflicts struct {
	conflictA        // unexported embedded struct: exported fields promoted
	conflictB        // X at the same depth twice, untagged: dropped
	Y         string `json:"y"`
}

type tagWins struct {
	A struct {
		V string `json:"v"`
	}
	taggedV
	untaggedV
}
type taggedV struct {
	X int `json:"V"` // conflicts with untaggedV.V at the same depth; the tag wins
}
type untaggedV struct {
	V string
}

func TestDeriveGolden(t *testing.T) {
	tests := []struct {
		name string
		typ  reflect.Type
		opts *Options
	}{
		{"pairing", reflect.TypeFor[pairing](), nil},
		{"pairing_extra", reflect.TypeFor[pairing](), &Options{Title: "Pairing", ExtraProperties: map[string]json.RawMessage{
			"action": json.RawMessage(`{"type":"integer"}`), // declared by the type: kept as derived
			"route":  json.RawMessage(`{"type":"string","maxLength":10}`),
		}}},
		{"pairing_open", reflect.TypeFor[pairing](), &Options{AllowAdditionalProperties: true}},
		{"scalars", reflect.TypeFor[scalars](), nil},
		{"containers", reflect.TypeFor[containers](), nil},
		{"containers_open", reflect.TypeFor[containers](), &Options{AllowAdditionalProperties: true}},
		{"tagged", reflect.TypeFor[tagged](), nil},
		{"embedded", reflect.TypeFor[embedded](), nil},
		{"conflicts", reflect.TypeFor[conflicts](), nil},
		{"tag_wins", reflect.TypeFor[tagWins](), nil},
		{"string", reflect.TypeFor[string](), &Options{Title: "Just a string"}},
		{"uint_slice", reflect.TypeFor[[]uint16](), nil},
		{"map", reflect.TypeFor[map[string]*pairing](), nil},
		{"any", reflect.TypeFor[any](), nil},
		{"pointer", reflect.TypeFor[**pairing](), nil},
		{"empty_struct", reflect.TypeFor[struct{}](), &Options{ExtraProperties: map[string]json.RawMessage{"action": json.RawMessage(`{"type":"string"}`)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Reflect(tt.typ, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if s.fast == nil {
				t.Error("derived schema is not covered by the fast validator")
			}
			var got bytes.Buffer
			if err := json.Indent(&got, s.JSON(), "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			file := filepath.Join("testdata", tt.name+".json")
			if *update {
				if err := os.WriteFile(file, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -run TestDeriveGolden -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("derived schema differs from %s (rerun with -update if intended):\n%s", file, got.Bytes())
			}
			// Derivation is deterministic.
			again, err := Reflect(tt.typ, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.JSON(), again.JSON()) {
				t.Error("derivation is not deterministic")
			}
			// The canonical JSON parses back to the same schema.
			back, err := Parse(s.JSON())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.JSON(), s.JSON()) {
				t.Errorf("Parse(JSON()) changed the schema:\n%s\n%s", back.JSON(), s.JSON())
			}
		})
	}
}

// requiredOf returns the top-level "required" list of a schema.
func requiredOf(t *testing.T, s *Schema) []string {
	t.Helper()
	var doc struct {
		Required []string `json:"required"`
	}
	if err := json.Unmarshal(s.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Required
}

func TestDeriveRequired(t *testing.T) {
	s := MustFor[tagged](nil)
	want := []string{"name", "kind", "level", "ratio", "above", "count", "positive", "flag", "tags", "scores", "email", "note", "ptr", "desc"}
	if got := requiredOf(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("required = %q, want %q", got, want)
	}
	e := MustFor[embedded](nil)
	// Extra is embedded through a pointer, so its "note" is optional.
	want = []string{"id", "name", "created", "inner"}
	if got := requiredOf(t, e); !reflect.DeepEqual(got, want) {
		t.Errorf("required = %q, want %q", got, want)
	}
}

func TestDeriveErrors(t *testing.T) {
	type unknown struct {
		Name string `json:"name" schema:"minLenght=1"`
	}
	type badInt struct {
		Name string `json:"name" schema:"maxLength=x"`
	}
	type negative struct {
		Name string `json:"name" schema:"minLength=-1"`
	}
	type wrongType struct {
		N int `json:"n" schema:"minLength=1"`
	}
	type wrongItems struct {
		N []int `json:"n" schema:"pattern=^a$"`
	}
	type badPattern struct {
		S string `json:"s" schema:"pattern=(["`
	}
	type both struct {
		S string `json:"s" schema:"optional,required"`
	}
	type twice struct {
		S string `json:"s" schema:"maxLength=1,maxLength=2"`
	}
	type exclNoMin struct {
		F float64 `json:"f" schema:"exclusiveMinimum"`
	}
	type badBool struct {
		F float64 `json:"f" schema:"minimum=1,exclusiveMinimum=yes"`
	}
	type badNumber struct {
		F float64 `json:"f" schema:"maximum=1e"`
	}
	type badEnumInt struct {
		I int `json:"i" schema:"enum=1|2.5"`
	}
	type dupEnum struct {
		S string `json:"s" schema:"enum=a|b|a"`
	}
	type emptyValue struct {
		S string `json:"s" schema:"format="`
	}
	type optionalValue struct {
		S string `json:"s" schema:"optional=yes"`
	}
	type onAny struct {
		A any `json:"a" schema:"minLength=1"`
	}
	type nested struct {
		Inner struct {
			Deep []struct {
				X string `json:"x" schema:"bogus"`
			} `json:"deep"`
		} `json:"inner"`
	}
	type withChan struct {
		C chan int `json:"c"`
	}
	type withFunc struct {
		F func() `json:"f"`
	}
	type badKey struct {
		M map[[2]int]string `json:"m"`
	}
	type recursive struct {
		Children []recursive `json:"children"`
	}
	type recursivePtr struct {
		Next *recursivePtr `json:"next"`
	}
	tests := []struct {
		name           string
		typ            reflect.Type
		opts           *Options
		field, keyword string
		msg            string
	}{
		{"unknown keyword", reflect.TypeFor[unknown](), nil, "Name", "minLenght", "unknown keyword"},
		{"bad integer", reflect.TypeFor[badInt](), nil, "Name", "maxLength", "not a non-negative integer"},
		{"negative", reflect.TypeFor[negative](), nil, "Name", "minLength", "not a non-negative integer"},
		{"keyword for another type", reflect.TypeFor[wrongType](), nil, "N", "minLength", "does not apply to an integer"},
		{"keyword for another item type", reflect.TypeFor[wrongItems](), nil, "N", "pattern", "does not apply to an array of integer items"},
		{"bad pattern", reflect.TypeFor[badPattern](), nil, "S", "pattern", "invalid regular expression"},
		{"optional and required", reflect.TypeFor[both](), nil, "S", "required", "exclude each other"},
		{"repeated keyword", reflect.TypeFor[twice](), nil, "S", "maxLength", "more than once"},
		{"exclusiveMinimum without minimum", reflect.TypeFor[exclNoMin](), nil, "F", "exclusiveMinimum", "needs minimum"},
		{"bad boolean", reflect.TypeFor[badBool](), nil, "F", "exclusiveMinimum", "not true or false"},
		{"bad number", reflect.TypeFor[badNumber](), nil, "F", "maximum", "not a JSON number"},
		{"non-integer enum", reflect.TypeFor[badEnumInt](), nil, "I", "enum", "not an integer"},
		{"duplicate enum", reflect.TypeFor[dupEnum](), nil, "S", "enum", "listed twice"},
		{"empty value", reflect.TypeFor[emptyValue](), nil, "S", "format", "needs a value"},
		{"value on flag", reflect.TypeFor[optionalValue](), nil, "S", "optional", "takes no value"},
		{"keyword on any", reflect.TypeFor[onAny](), nil, "A", "minLength", "does not apply to a value of any type"},
		{"nested field path", reflect.TypeFor[nested](), nil, "Inner.Deep.X", "bogus", "unknown keyword"},
		{"chan", reflect.TypeFor[withChan](), nil, "C", "", "unsupported type chan int"},
		{"func", reflect.TypeFor[withFunc](), nil, "F", "", "unsupported type func()"},
		{"complex", reflect.TypeFor[complex128](), nil, "", "", "unsupported type complex128"},
		{"map key", reflect.TypeFor[badKey](), nil, "M", "", "unsupported map key type"},
		{"recursive", reflect.TypeFor[recursive](), nil, "Children", "", "recursive type"},
		{"recursive pointer", reflect.TypeFor[recursivePtr](), nil, "Next", "", "recursive type"},
		{"extra on non-object", reflect.TypeFor[[]string](), &Options{ExtraProperties: map[string]json.RawMessage{"a": json.RawMessage(`{}`)}}, "", "", "needs an object schema"},
		{"extra not JSON", reflect.TypeFor[pairing](), &Options{ExtraProperties: map[string]json.RawMessage{"a": json.RawMessage(`{`)}}, "", "", "not valid JSON"},
		{"extra not object", reflect.TypeFor[pairing](), &Options{ExtraProperties: map[string]json.RawMessage{"a": json.RawMessage(`"string"`)}}, "", "", "not a JSON object"},
		{"extra not a schema", reflect.TypeFor[pairing](), &Options{ExtraProperties: map[string]json.RawMessage{"a": json.RawMessage(`{"type":"text"}`)}}, "", "", "derived schema is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Reflect(tt.typ, tt.opts)
			if err == nil {
				t.Fatalf("no error; schema %s", s.JSON())
			}
			var de *DeriveError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DeriveError", err, err)
			}
			if de.Type != tt.typ || de.Field != tt.field || de.Keyword != tt.keyword || !strings.Contains(de.Message, tt.msg) {
				t.Errorf("got Type=%v Field=%q Keyword=%q Message=%q, want %v %q %q ~%q", de.Type, de.Field, de.Keyword, de.Message, tt.typ, tt.field, tt.keyword, tt.msg)
			}
			for _, part := range []string{tt.field, tt.keyword} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("Error() = %q does not mention %q", err, part)
				}
			}
		})
	}
}

func TestReflectNil(t *testing.T) {
	if _, err := Reflect(nil, nil); err == nil {
		t.Fatal("Reflect(nil) succeeded")
	}
}

func TestOptionsNotMutated(t *testing.T) {
	opts := &Options{
		Title:           "T",
		ExtraProperties: map[string]json.RawMessage{"action": json.RawMessage(`{"type":"string"}`)},
	}
	before := *opts
	beforeExtra := string(opts.ExtraProperties["action"])
	if _, err := For[pairing](opts); err != nil {
		t.Fatal(err)
	}
	if _, err := For[item](opts); err != nil {
		t.Fatal(err)
	}
	if opts.Title != before.Title || opts.AllowAdditionalProperties != before.AllowAdditionalProperties ||
		len(opts.ExtraProperties) != 1 || string(opts.ExtraProperties["action"]) != beforeExtra {
		t.Errorf("options were modified: %+v", opts)
	}
}

func TestExtraPropertiesAdmitRouteField(t *testing.T) {
	strict := MustFor[item](nil)
	withAction := MustFor[item](&Options{ExtraProperties: map[string]json.RawMessage{"action": json.RawMessage(`{"type":"string"}`)}})
	doc := []byte(`{"action":"add","name":"x"}`)
	var ve *ValidationError
	if err := strict.ValidateJSON(doc); !errors.As(err, &ve) || ve.Keyword != "additionalProperties" {
		t.Errorf("strict schema: got %v, want additionalProperties error", err)
	}
	if err := withAction.ValidateJSON(doc); err != nil {
		t.Errorf("schema with extra property: %v", err)
	}
	if err := withAction.ValidateJSON([]byte(`{"name":"x"}`)); err != nil {
		t.Errorf("extra property must not be required: %v", err)
	}
	if err := withAction.ValidateJSON([]byte(`{"name":"x","action":1}`)); !errors.As(err, &ve) || ve.Path != "/action" || ve.Keyword != "type" {
		t.Errorf("extra property schema not applied: %v", err)
	}
}

func TestMustForPanics(t *testing.T) {
	defer func() {
		r := recover()
		err, ok := r.(error)
		var de *DeriveError
		if !ok || !errors.As(err, &de) {
			t.Errorf("MustFor panicked with %v, want a *DeriveError", r)
		}
	}()
	MustFor[chan int](nil)
}

// TestFieldsMatchEncodingJSON checks that the derived top-level properties are
// exactly the keys encoding/json writes (for types without omitempty fields).
func TestFieldsMatchEncodingJSON(t *testing.T) {
	for _, v := range []any{scalars{}, conflicts{}, tagWins{}, containers{}, pairing{}, embedded{Extra: &Extra{}}} {
		typ := reflect.TypeOf(v)
		t.Run(typ.Name(), func(t *testing.T) {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var keys map[string]any
			if err := json.Unmarshal(b, &keys); err != nil {
				t.Fatal(err)
			}
			s, err := Reflect(typ, nil)
			if err != nil {
				t.Fatal(err)
			}
			var sch struct {
				Properties map[string]any `json:"properties"`
			}
			if err := json.Unmarshal(s.JSON(), &sch); err != nil {
				t.Fatal(err)
			}
			for k := range keys {
				if _, ok := sch.Properties[k]; !ok {
					t.Errorf("encoding/json writes %q, the schema lacks it", k)
				}
			}
			for k := range sch.Properties {
				if _, ok := keys[k]; !ok {
					t.Errorf("schema has %q, encoding/json does not write it", k)
				}
			}
		})
	}
}
