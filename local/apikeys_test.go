package local_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/local/emulator"
)

func TestReadAPIKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keys, err := local.ReadAPIKeys(write("ok.json", `[{"name":"a","value":"tenant-a-key-0123456789","plan":"free"},{"name":"b","value":"tenant-b-key-0123456789","plan":"paid","id":"b0b0b0b0b0"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (emulator.APIKey{Name: "b", Value: "tenant-b-key-0123456789", Plan: "paid", ID: "b0b0b0b0b0"}); len(keys) != 2 || keys[1] != want {
		t.Fatalf("keys %+v", keys)
	}
	for body, want := range map[string]string{
		`{"keys":[]}`: "JSON array",
		`[{"name":"a","value":"v","plan":"p","tier":"x"}]`: "unknown field",
		`[{"name":"a","plan":"p"}]`:                        "needs a value and a plan",
	} {
		if _, err := local.ReadAPIKeys(write("bad.json", body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error mentioning %q", body, err, want)
		}
	}
	if _, err := local.ReadAPIKeys(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file read without error")
	}
}
