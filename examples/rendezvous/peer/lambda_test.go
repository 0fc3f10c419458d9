package peer_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNotInTheLambdaBinary: the service's main package (the Lambda
// binary) links neither this package nor quic-go.
func TestNotInTheLambdaBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "..").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasSuffix(dep, "/examples/rendezvous/peer") || strings.HasPrefix(dep, "github.com/quic-go/") {
			t.Errorf("the rendezvous Lambda binary links %s", dep)
		}
	}
}
