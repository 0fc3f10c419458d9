package main

import (
	"strings"
	"testing"
)

func TestCost(t *testing.T) {
	code, stdout, stderr := runCLI(t, "cost")
	if code != 0 || !strings.Contains(stdout, "RESULT chat_usd_per_million=11.52 rendezvous_usd_per_million=9.95") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "cost", "-members", "100", "-memory", "512")
	if code != 0 || !strings.Contains(stdout, "room of 100") || !strings.Contains(stdout, "arm64 512 MB") {
		t.Fatalf("exit %d\nstdout: %s", code, stdout)
	}
	for _, args := range [][]string{{"cost", "-members", "0"}, {"cost", "-memory", "64"}, {"cost", "extra"}, {"cost", "-member", "3"}} {
		if code, _, stderr := runCLI(t, args...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}
