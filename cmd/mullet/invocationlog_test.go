package main

import (
	"context"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mulletgo/mullet/internal/syncbuf"
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/local/invocationlog"
)

// TestInvocationLog serves an app with local.Serve, as mullet dev's
// child does, and checks the one line per invocation in each format.
func TestInvocationLog(t *testing.T) {
	esc := regexp.QuoteMeta
	id := `[A-Za-z0-9_=-]{16}`
	tests := []struct {
		format string
		lines  []string // regexps, one per invocation: $connect, whoami, $disconnect
	}{
		{"text", []string{
			`^\d\d:\d\d:\d\d\.\d{3}  ` + esc("$connect") + `     ` + id + `  200 +\d+(\.\d+)?(µs|ms)$`,
			`^\d\d:\d\d:\d\d\.\d{3}  whoami       ` + id + `  200 +\d+(\.\d+)?(µs|ms)$`,
			`^\d\d:\d\d:\d\d\.\d{3}  ` + esc("$disconnect") + `  ` + id + `  200 +\d+(\.\d+)?(µs|ms)$`,
		}},
		{"color", []string{
			`^` + esc("\x1b[2m") + `\d\d:\d\d:\d\d\.\d{3}` + esc("\x1b[0m  \x1b[36m$connect\x1b[0m") + ` +` + id + `  ` + esc("\x1b[32m200\x1b[0m"),
			esc("\x1b[36mwhoami\x1b[0m"),
			esc("\x1b[36m$disconnect\x1b[0m"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			lines := serveAndLog(t, tt.format)
			if len(lines) != len(tt.lines) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tt.lines), strings.Join(lines, "\n"))
			}
			for i, re := range tt.lines {
				if !regexp.MustCompile(re).MatchString(lines[i]) {
					t.Errorf("line %d %q does not match %q", i, lines[i], re)
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		lines := serveAndLog(t, "json")
		var routes []string
		for _, l := range lines {
			var v struct {
				Time         time.Time `json:"time"`
				Route        string    `json:"route"`
				ConnectionID string    `json:"connectionId"`
				RequestID    string    `json:"requestId"`
				Status       int       `json:"status"`
				DurationMs   *float64  `json:"durationMs"`
			}
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			if v.Time.IsZero() || len(v.ConnectionID) != 16 || v.RequestID == "" || v.Status != 200 || v.DurationMs == nil {
				t.Fatalf("incomplete line %q", l)
			}
			routes = append(routes, v.Route)
		}
		if strings.Join(routes, " ") != "$connect whoami $disconnect" {
			t.Fatalf("routes %q", routes)
		}
	})
}

// serveAndLog serves toolApp with the given invocation log format, makes
// one connection send one frame, and returns the log's lines.
func serveAndLog(t *testing.T, format string) []string {
	t.Helper()
	var log syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- local.Serve(ctx, toolApp(), &local.Options{
			Addr: "127.0.0.1:0", Out: io.Discard, InvocationLog: &log, InvocationLogFormat: invocationlog.Format(format),
			Ready: func(ws, _ string) { ready <- ws },
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("local.Serve: %v", err)
		}
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("local.Serve: %v", err)
	}
	if got := askFrame(url, `{"action":"whoami"}`); len(got) != 16 {
		t.Fatalf("whoami answered %q", got)
	}
	waitFor(t, "$disconnect to be logged", 5*time.Second, func() bool { return strings.Contains(log.String(), "$disconnect") })
	return strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
}
