package framework_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/mulletgo/mullet/manifest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestManifestGolden(t *testing.T) {
	app := newTestApp(true)
	data, err := app.Manifest().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "manifest.golden.json")
	if *update {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestManifestGolden -update)", err)
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("manifest changed; diff against %s or rerun with -update:\n%s", golden, data)
	}
	// Stable: the same declaration gives the same bytes.
	again, _ := newTestApp(true).Manifest().Marshal()
	if !bytes.Equal(again, data) {
		t.Fatal("manifest output is not deterministic")
	}
	m, err := manifest.Decode(data)
	if err != nil {
		t.Fatalf("manifest does not decode: %v", err)
	}
	if r, ok := m.Route("echo"); !ok || !r.TwoWay || r.Model != "EchoModel" || len(r.Schema) == 0 {
		t.Fatalf("echo route = %+v", r)
	}
}
