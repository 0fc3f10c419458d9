package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/internal/loadgen"
	"github.com/mulletgo/mullet/internal/syncbuf"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
)

func TestDevStoreErrors(t *testing.T) {
	srv := dynalitetest.Start(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing table", []string{"dev", "-store", "dynamodb", "-dynamodb-endpoint", srv.Endpoint, "-table", "no-such-table", "../../examples/rendezvous"}, 1, `table "no-such-table" does not exist`},
		{"unreachable endpoint", []string{"dev", "-store", "dynamodb", "-dynamodb-endpoint", "http://127.0.0.1:1", "-table", "t", "../../examples/rendezvous"}, 1, "cannot reach DynamoDB at http://127.0.0.1:1"},
		{"endpoint without table", []string{"dev", "-store", "dynamodb", "-dynamodb-endpoint", srv.Endpoint, "../../examples/rendezvous"}, 2, "needs -table"},
		{"aws without table", []string{"dev", "-store", "dynamodb", "-dynamodb-endpoint", "aws", "../../examples/rendezvous"}, 2, "needs -table"},
		{"unknown store", []string{"dev", "-store", "redis", "../../examples/rendezvous"}, 2, `-store "redis": use memory or dynamodb`},
		{"table without store", []string{"dev", "-table", "t", "../../examples/rendezvous"}, 2, "need -store dynamodb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, tt.code, stdout, stderr, tt.want)
			}
		})
	}
}

// TestDevDynamoDB runs the rendezvous example through mullet dev against
// dynalite and pairs two clients.
func TestDevDynamoDB(t *testing.T) {
	db := dynalitetest.Start(t)
	table := db.NewTable(t)
	addr := freeAddr(t)
	url := "ws://" + addr + "/local"
	// The example requires an API key on $connect (mullet dev -api-keys).
	const key = "dev-dynamodb-key-00000001"
	keys := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keys, []byte(`[{"name":"dev","value":"`+key+`","plan":"free"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "-addr", addr, "-store", "dynamodb", "-dynamodb-endpoint", db.Endpoint, "-table", table, "-api-keys", keys, "../../examples/rendezvous"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Errorf("mullet dev did not stop")
		}
	})
	waitFor(t, "the rendezvous app to serve", 90*time.Second, func() bool {
		return strings.Contains(stdout.String(), "websocket:    "+url)
	})
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	var conns []*websocket.Conn
	for range 2 {
		var c *websocket.Conn
		var err error
		waitFor(t, "a connection", 10*time.Second, func() bool {
			c, _, err = websocket.Dial(dctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {key}}})
			return err == nil
		})
		defer c.CloseNow()
		conns = append(conns, c)
	}
	for _, c := range conns {
		if err := c.Write(dctx, websocket.MessageText, []byte(`{"action":"pair","pairing_name":"dev-dynamo"}`)); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range conns {
		_, data, err := c.Read(dctx)
		if err != nil || string(data) != `{"SourceIP":"127.0.0.1"}` {
			t.Fatalf("client %d: %q, %v\nstderr: %s", i, data, err, stderr.String())
		}
	}
}

// TestDevDynaliteMissing: -store dynamodb without an endpoint, on a machine
// without node, says what is missing and how to fix it.
func TestDevDynaliteMissing(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	bin := t.TempDir()
	if err := os.Symlink(goBin, filepath.Join(bin, "go")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	code, stdout, stderr := runCLI(t, "dev", "-addr", freeAddr(t), "-store", "dynamodb", "../../examples/rendezvous")
	for _, want := range []string{"-store dynamodb without -dynamodb-endpoint runs dynalite", "node (20 or later) is not on PATH", "npm ci", "or pass -dynamodb-endpoint URL"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Fatalf("exit %d, want 1 and %q\nstdout: %s\nstderr: %s", code, want, stdout, stderr)
		}
	}
}

// TestDevLambdaPairsOnDynamoDB runs the bench app (a barrier that refuses
// an arrival once it has released) under mullet dev -runtime lambda
// -store dynamodb and drives pairs with a third arrival after each
// release: every pair must release and every third arrival must be
// answered (its 409), not left waiting. The measured run is 200 pairs, 50
// in flight (MULLET_PAIRS=200 MULLET_PAIRS_IN_FLIGHT=50; docs/benchmarks.md).
func TestDevLambdaPairsOnDynamoDB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bench app for the Lambda runtime")
	}
	pairs, inFlight := envInt(t, "MULLET_PAIRS", 20), envInt(t, "MULLET_PAIRS_IN_FLIGHT", 10)
	db := dynalitetest.Start(t)
	dev := startDev(t, "../../internal/benchapp/lambda", "-runtime", "lambda", "-store", "dynamodb", "-dynamodb-endpoint", db.Endpoint, "-table", db.NewTable(t))
	url := "ws://" + dev.addr + "/local"
	waitFor(t, "the bench app to serve", 120*time.Second, func() bool {
		return strings.Contains(dev.stdout.String(), "websocket:    "+url)
	})
	var out syncbuf.Buffer
	err := loadgen.Run(context.Background(), loadgen.Config{
		Mode: "pair", Route: "echo", Counts: []int{inFlight}, Pairs: pairs, Third: true, URL: url, Out: &out,
	})
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("c%d_pairs=%d ", inFlight, pairs)
	for _, w := range []string{want, fmt.Sprintf("c%d_errors=0 ", inFlight), fmt.Sprintf("c%d_unanswered=0", inFlight)} {
		if !strings.Contains(out.String(), w) {
			t.Fatalf("want %q in the result", w)
		}
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive count", name, v)
	}
	return n
}
