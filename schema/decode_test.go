package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// decodeSeeds are JSON texts, valid and not, on which the decoder must agree
// with encoding/json.
var decodeSeeds = []string{
	`null`, `true`, `false`, `0`, `-0`, `1.5e-3`, `1E+5`, `123456789012345678901234567890`, `1e400`,
	`""`, `"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`, `"\u0041\u00e9\u4e2d"`, `"\ud83d\ude00"`,
	`"\ud83d"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\ude00\ud83d"`, `"\u0000"`, "\"\xff\"", "\"a\xc0\xafb\"", "\"é\xe2\x82\"",
	`[]`, `{}`, ` [ 1 , "a" , [ ] , { } ] `, "\t{\n\"a\"\r:\n1}\n", `{"a":1,"a":2}`, `{"a":{"b":[{"c":null}]}}`,
	`{"pairing_name":"abc","action":"pair"}`, `{"\u0061ction":"x"}`, `[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]`,
	``, ` `, `{`, `[`, `]`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{1:2}`, `{"a" 1}`, `[,]`,
	`tru`, `trUe`, `nul`, `fals`, `"abc`, "\"a\tb\"", `"\x"`, `"\u12g4"`, `"\u12`, `"\`,
	`01`, `1.`, `-`, `-a`, `1e`, `1e+`, `.5`, `+1`, `1.e5`, `{} {}`, `{}x`, "\xef\xbb\xbf{}", "\x00", `NaN`, `Infinity`,
}

// stdDecode decodes like json.Unmarshal with UseNumber.
func stdDecode(data []byte) (any, error) {
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func compareDecode(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := stdDecode(data)
	got, err := decodeNames(data, map[string]string{"a": "a", "action": "action"})
	if wantErr != nil {
		var se *SyntaxError
		var jse *json.SyntaxError
		if !errors.As(err, &se) || !errors.As(wantErr, &jse) {
			t.Fatalf("%q: got %v, encoding/json says %v", data, err, wantErr)
		}
		if se.Offset != jse.Offset || se.Message != jse.Error() {
			t.Fatalf("%q: got offset %d %q, encoding/json says %d %q", data, se.Offset, se.Message, jse.Offset, jse.Error())
		}
		return
	}
	if err != nil {
		t.Fatalf("%q: got %v, encoding/json accepts it", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: got %#v, encoding/json gives %#v", data, got, want)
	}
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range decodeSeeds {
		compareDecode(t, []byte(s))
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareDecode(t, data)
	})
}
