package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/mullettest"
)

func TestPost(t *testing.T) {
	srv := mullettest.NewServer(t, toolApp(), nil)
	c := srv.Dial(t, nil)
	c.Send(t, `{"action":"whoami"}`)
	id := c.Read(t)
	file := filepath.Join(t.TempDir(), "frame.json")
	if err := os.WriteFile(file, []byte(`{"from":"a file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	const goneID = "AAAAAAAAAAAAAAA="
	// The banner's form of the endpoint is accepted too.
	bannerEndpoint := srv.CallbackURL + "/@connections/{connectionId}"

	// Steps run in order: the last one disconnects the client.
	steps := []struct {
		name    string
		args    []string
		code    int
		want    string // in stdout+stderr
		receive string // the frame the client then gets
	}{
		{"post", []string{"post", "-endpoint", srv.CallbackURL, id, `{"hello":1}`}, 0, "sent 11 bytes to " + id, `{"hello":1}`},
		{"post a file, endpoint as the banner shows it", []string{"post", "-endpoint", bannerEndpoint, id, "@" + file}, 0, "sent 17 bytes", `{"from":"a file"}`},
		{"flags after the arguments", []string{"post", id, "plain text", "-endpoint", srv.CallbackURL}, 0, "sent 10 bytes", "plain text"},
		{"get", []string{"post", "-endpoint", srv.CallbackURL, "-get", id}, 0, `"sourceIp": "127.0.0.1"`, ""},
		{"gone", []string{"post", "-endpoint", srv.CallbackURL, goneID, "x"}, 1, "410 GoneException: no connection " + goneID, ""},
		{"ID that begins with -", []string{"post", "-endpoint", srv.CallbackURL, "-" + goneID[1:], "x"}, 1, "410 GoneException: no connection -" + goneID[1:], ""},
		{"get an ID that begins with -", []string{"post", "-get", "-endpoint", srv.CallbackURL, "-" + goneID[1:]}, 1, "410 GoneException", ""},
		{"DATA that begins with -, after --", []string{"post", "-endpoint", srv.CallbackURL, id, "--", "-1"}, 0, "sent 2 bytes", "-1"},
		{"DATA that begins with -, without --", []string{"post", "-endpoint", srv.CallbackURL, id, "-1"}, 2, "if -1 is an argument, not a flag, put -- before it", ""},
		{"get gone", []string{"post", "-endpoint", srv.CallbackURL, "-get", goneID}, 1, "410 GoneException", ""},
		{"malformed ID", []string{"post", "-endpoint", srv.CallbackURL, "not-an-id", "x"}, 1, `400 BadRequestException: "not-an-id" is not a valid connection ID`, ""},
		{"too large", []string{"post", "-endpoint", srv.CallbackURL, id, strings.Repeat("x", 129<<10)}, 1, "413 PayloadTooLargeException", ""},
		{"unreachable", []string{"post", "-endpoint", "http://127.0.0.1:1/local", id, "x"}, 1, "cannot reach http://127.0.0.1:1/local", ""},
		{"missing endpoint", []string{"post", id, "x"}, 2, "missing -endpoint URL", ""},
		{"missing DATA", []string{"post", "-endpoint", srv.CallbackURL, id}, 2, "want ID DATA", ""},
		{"get and delete", []string{"post", "-endpoint", srv.CallbackURL, "-get", "-delete", id}, 2, "exclude each other", ""},
		{"bad endpoint", []string{"post", "-endpoint", "ftp://x/local", id, "x"}, 2, "want an http:// or https:// URL", ""},
		{"missing file", []string{"post", "-endpoint", srv.CallbackURL, id, "@/nonexistent/frame.json"}, 2, "DATA @/nonexistent/frame.json: no such file", ""},
		{"bad flag", []string{"post", "-endpiont", srv.CallbackURL, id, "x"}, 2, "did you mean -endpoint?", ""},
		{"help", []string{"post", "-h"}, 0, "Usage: mullet post", ""},
		{"delete", []string{"post", "-endpoint", srv.CallbackURL, "-delete", id}, 0, "disconnected " + id, ""},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, tt.code, stdout, stderr, tt.want)
			}
			if tt.receive != "" {
				if got := c.Read(t); got != tt.receive {
					t.Fatalf("the client got %q, want %q", got, tt.receive)
				}
			}
		})
	}
	// -delete closed the client's connection.
	_, err := c.ReadTimeout(5 * time.Second)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after -delete the client reads %v, want a normal closure", err)
	}
}

func TestCallbackEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080/local":                                          "http://127.0.0.1:8080/local",
		"http://127.0.0.1:8080/local/":                                         "http://127.0.0.1:8080/local",
		"http://127.0.0.1:8080/local/@connections/{connectionId}":              "http://127.0.0.1:8080/local",
		"wss://abc123.execute-api.eu-west-1.amazonaws.com/prod":                "https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
		"https://abc123.execute-api.eu-west-1.amazonaws.com/prod/@connections": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
	} {
		got, err := callbackEndpoint(in)
		if err != nil || got != want {
			t.Errorf("callbackEndpoint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if m := executeAPIHost.FindStringSubmatch("abc123.execute-api.eu-west-1.amazonaws.com"); m == nil || m[1] != "eu-west-1" {
		t.Errorf("region from an execute-api host: %q", m)
	}
}

func TestReadData(t *testing.T) {
	got, err := readData("-", strings.NewReader("from stdin\n"))
	if err != nil || string(got) != "from stdin\n" {
		t.Fatalf("readData(-) = %q, %v", got, err)
	}
	got, err = readData(`{"a":1}`, nil)
	if err != nil || string(got) != `{"a":1}` {
		t.Fatalf("readData(literal) = %q, %v", got, err)
	}
}
