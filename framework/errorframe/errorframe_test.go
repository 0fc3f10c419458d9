package errorframe_test

import (
	"encoding/json"
	"testing"

	"github.com/mulletgo/mullet/framework/errorframe"
)

// TestAPIGatewaySpacing pins the frame to the bytes API Gateway sends
// (docs/fidelity.md, error frames).
func TestAPIGatewaySpacing(t *testing.T) {
	got := string(errorframe.New(errorframe.Forbidden, "L0SM9cOFvHcCIhw=", "L0SM9FcIvHcF2OQ="))
	want := `{"message": "Forbidden", "connectionId":"L0SM9cOFvHcCIhw=", "requestId":"L0SM9FcIvHcF2OQ="}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestEscaping checks that any message decodes back to itself, as
// encoding/json would encode it.
func TestEscaping(t *testing.T) {
	for _, msg := range []string{
		`Invalid request body: /name: pattern: does not match "^[a-z]+$"`,
		"tab\tnewline\nquote\"backslash\\ctl\x01",
		"<html> & é \u2028 \u2029",
		"bad utf-8 \xff\xfe",
	} {
		frame := errorframe.New(msg, "id", "req")
		var f struct{ Message, ConnectionID, RequestID string }
		if err := json.Unmarshal(frame, &f); err != nil {
			t.Fatalf("%q: invalid JSON %s: %v", msg, frame, err)
		}
		var want string
		b, _ := json.Marshal(msg)
		json.Unmarshal(b, &want)
		if f.Message != want || f.ConnectionID != "id" || f.RequestID != "req" {
			t.Errorf("%q: decoded %+v from %s", msg, f, frame)
		}
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("Forbidden", "id", "req")
	f.Add("\x00\"\\\xff", "\n", "\u2028")
	f.Fuzz(func(t *testing.T, msg, id, req string) {
		frame := errorframe.New(msg, id, req)
		var got struct{ Message, ConnectionID, RequestID string }
		if err := json.Unmarshal(frame, &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", frame, err)
		}
		var want struct{ Message, ConnectionID, RequestID string }
		b, _ := json.Marshal(map[string]string{"message": msg, "connectionId": id, "requestId": req})
		json.Unmarshal(b, &want)
		if got != want {
			t.Fatalf("decoded %+v, want %+v", got, want)
		}
	})
}
