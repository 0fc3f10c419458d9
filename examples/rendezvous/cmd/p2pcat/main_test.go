package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/mullettest"
)

var lastLine = regexp.MustCompile(`^path=(direct|relay) setup_ms=\d+ bytes=(\d+) mbps=\d+\.\d$`)

func TestSendRecv(t *testing.T) {
	const key = "p2pcat-test-key-000000001"
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: []emulator.APIKey{{Name: "cat", Value: key, Plan: "paid"}}})
	data := make([]byte, 3<<20)
	r := rand.NewChaCha8([32]byte{7})
	r.Read(data)
	var (
		wg                         sync.WaitGroup
		sendErr, recvErr, received bytes.Buffer
		sendCode, recvCode         int
	)
	ctx := context.Background()
	wg.Go(func() {
		sendCode = run(ctx, []string{"-url", srv.URL, "-api-key", key, "-name", "cat", "-send", "-"}, bytes.NewReader(data), nil, &sendErr)
	})
	wg.Go(func() {
		recvCode = run(ctx, []string{"-url", srv.URL, "-api-key", key, "-name", "cat", "-recv", "-"}, nil, &received, &recvErr)
	})
	wg.Wait()
	if sendCode != 0 || recvCode != 0 {
		t.Fatalf("exit %d / %d; stderr %q / %q", sendCode, recvCode, sendErr.String(), recvErr.String())
	}
	if !bytes.Equal(received.Bytes(), data) {
		t.Fatalf("received %d bytes, not the %d sent", received.Len(), len(data))
	}
	for _, e := range []string{sendErr.String(), recvErr.String()} {
		lines := strings.Split(strings.TrimSpace(e), "\n")
		m := lastLine.FindStringSubmatch(lines[len(lines)-1])
		if m == nil || m[2] != "3145728" {
			t.Fatalf("last stderr line %q", lines[len(lines)-1])
		}
	}
	t.Logf("sender: %s", strings.TrimSpace(sendErr.String()))
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-url", "ws://127.0.0.1:1/local", "-name", "x"},
		{"-url", "ws://127.0.0.1:1/local", "-name", "x", "-send", "-", "-recv", "-"},
		{"-name", "x", "-send", "-"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, nil, nil, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: p2pcat") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}
