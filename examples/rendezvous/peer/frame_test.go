package peer

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/local/emulator"
)

// TestRelayFrameFitsTheFrameQuota: the largest relay frame, to a
// connection ID of the longest length the relay route accepts, and the
// frame the service makes of it, both fit API Gateway's 32 KB frame.
func TestRelayFrameFitsTheFrameQuota(t *testing.T) {
	id := strings.Repeat("A", 128)
	frame := relayFrame(relayPrefix(id), make([]byte, 1+maxRelayFrame))
	if len(frame) > emulator.DefaultMaxFrameSize {
		t.Fatalf("a full relay frame is %d bytes, over the %d-byte frame quota", len(frame), emulator.DefaultMaxFrameSize)
	}
	var in struct {
		Action string `json:"action"`
		app.Relay
	}
	if err := json.Unmarshal(frame, &in); err != nil || in.To != id || in.Action != "relay" {
		t.Fatalf("frame does not decode: %v", err)
	}
	out, _ := json.Marshal(app.Relayed{From: id, Data: in.Data})
	if len(out) > emulator.DefaultMaxFrameSize {
		t.Fatalf("the relayed frame is %d bytes", len(out))
	}
	t.Logf("largest relay frame %d bytes in, %d out", len(frame), len(out))
}
