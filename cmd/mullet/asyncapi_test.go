package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	chat "github.com/mulletgo/mullet/examples/chat/app"
)

func TestAsyncAPICommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the chat example")
	}
	code, stdout, stderr := runCLI(t, "asyncapi", "-local", "ws://127.0.0.1:8080/local", "../../examples/chat")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		AsyncAPI   string                     `json:"asyncapi"`
		Info       struct{ Title string }     `json:"info"`
		Operations map[string]json.RawMessage `json:"operations"`
		Servers    map[string]json.RawMessage `json:"servers"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if doc.AsyncAPI != "3.0.0" || doc.Info.Title != "chat" || doc.Operations["receiveSend"] == nil || doc.Servers["local"] == nil {
		t.Fatalf("document: %+v", doc)
	}

	out := filepath.Join(t.TempDir(), "chat.ts")
	if code, _, stderr := runCLI(t, "asyncapi", "-ts", "-o", out, "../../examples/chat"); code != 0 {
		t.Fatalf("-ts: exit %d: %s", code, stderr)
	}
	ts, _ := os.ReadFile(out)
	if !strings.Contains(string(ts), "export type SendRequest = {") {
		t.Fatalf("-ts wrote:\n%s", ts)
	}
}

func TestAsyncAPICommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"asyncapi"}, 2, "missing DIR"},
		{[]string{"asyncapi", "-tss", "."}, 2, "did you mean -ts?"},
		{[]string{"asyncapi", "../../asyncapi"}, 1, `not a main package`},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("mullet %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
}

func TestAsyncAPIHandler(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") })
	h, err := asyncAPIHandler(chat.New().Manifest(), "ws://127.0.0.1:8080/local", page)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for path, want := range map[string]string{asyncAPIPath: `"asyncapi": "3.0.0"`, typesPath: "export type ClientFrame", "/index.html": "page"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s; want %q", path, body, want)
		}
	}
}
