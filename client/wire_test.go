package client

import (
	"testing"

	"github.com/mulletgo/mullet/framework"
)

// TestWireNames keeps the client's copy of the protocol's names equal to
// the server's (docs/protocol.md 2.1); the client does not import the
// framework, which ships in Lambda.
func TestWireNames(t *testing.T) {
	if paramSession != framework.ParamSession || paramSecret != framework.ParamSecret || paramNext != framework.ParamNext {
		t.Fatal("the session parameters differ from the framework's")
	}
	if hashSecret("s") != framework.HashSecret("s") {
		t.Fatal("hashSecret differs from framework.HashSecret")
	}
}
