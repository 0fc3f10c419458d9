package emf_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/mulletgo/mullet/framework/emf"
)

// TestLinesFollowTheFormat validates lines against the specification's
// structure (testdata/emf.schema.json) and checks what a schema cannot:
// every dimension and metric a directive names is a member of the root,
// dimensions strings and metrics numbers, and the values are the
// invocation's.
func TestLinesFollowTheFormat(t *testing.T) {
	sch, err := jsonschema.Compile("testdata/emf.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	at := time.UnixMilli(1733300000123)
	w := emf.NewWriter(&out, `chat "quoted"`, &emf.Options{Now: func() time.Time { return at }})
	invs := []emf.Invocation{
		{Route: "send", Duration: 1412 * time.Microsecond, Pushes: 3, Gone: 1},
		{Route: "$connect", Duration: 90 * time.Microsecond, Error: true, Throttles: 2},
		{Route: "pair", Releases: 1, Timeouts: 0, Replays: 7},
	}
	for _, inv := range invs {
		if err := w.Record(inv); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(invs) {
		t.Fatalf("%d lines for %d invocations", len(lines), len(invs))
	}
	for i, line := range lines {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		if err := sch.Validate(doc); err != nil {
			t.Fatalf("line %d: %v\n%s", i, err, line)
		}
		meta := doc["_aws"].(map[string]any)
		if meta["Timestamp"] != float64(1733300000123) {
			t.Errorf("Timestamp %v", meta["Timestamp"])
		}
		for _, d := range meta["CloudWatchMetrics"].([]any) {
			dir := d.(map[string]any)
			for _, set := range dir["Dimensions"].([]any) {
				for _, name := range set.([]any) {
					if _, ok := doc[name.(string)].(string); !ok {
						t.Errorf("line %d: dimension %s is not a string member of the root", i, name)
					}
				}
			}
			for _, m := range dir["Metrics"].([]any) {
				name := m.(map[string]any)["Name"].(string)
				if _, ok := doc[name].(float64); !ok {
					t.Errorf("line %d: metric %s is not a numeric member of the root", i, name)
				}
			}
		}
		inv := invs[i]
		errors := 0.0
		if inv.Error {
			errors = 1
		}
		want := map[string]any{
			"App": `chat "quoted"`, "Route": inv.Route, "Invocations": 1.0, "Errors": errors,
			"Duration": float64(inv.Duration.Microseconds()) / 1000, "Pushes": float64(inv.Pushes), "Gone": float64(inv.Gone),
			"Throttles": float64(inv.Throttles), "BarrierReleases": float64(inv.Releases), "BarrierTimeouts": float64(inv.Timeouts),
			"Replays": float64(inv.Replays),
		}
		for k, v := range want {
			if doc[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, doc[k], v)
			}
		}
	}
}

// TestSchemaRejects keeps the schema honest: documents that break the
// specification fail it.
func TestSchemaRejects(t *testing.T) {
	sch, err := jsonschema.Compile("testdata/emf.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]string{
		"no _aws":          `{"a":1}`,
		"no timestamp":     `{"_aws":{"CloudWatchMetrics":[]}}`,
		"string timestamp": `{"_aws":{"Timestamp":"1","CloudWatchMetrics":[]}}`,
		"no dimensions":    `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[]}]}}`,
		"ten dimensions":   `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["a","b","c","d","e","f","g","h","i","j"]],"Metrics":[]}]}}`,
		"bad unit":         `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"x","Unit":"Parsecs"}]}]}}`,
		"empty namespace":  `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"","Dimensions":[[]],"Metrics":[]}]}}`,
	} {
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatal(err)
		}
		if sch.Validate(v) == nil {
			t.Errorf("%s: the schema accepts %s", name, doc)
		}
	}
}

// BenchmarkRecord: one line per invocation, on the Lambda hot path.
func BenchmarkRecord(b *testing.B) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := emf.NewWriter(f, "chat", nil)
	inv := emf.Invocation{Route: "send", Duration: time.Millisecond, Pushes: 3}
	b.ReportAllocs()
	for b.Loop() {
		w.Record(inv)
	}
}
