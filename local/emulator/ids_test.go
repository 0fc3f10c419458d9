package emulator

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/manifest"
)

// TestMessageIDs: request and message IDs have AWS's shape (canonical
// base64 of 11 bytes, no '+' or '/') and do not repeat.
func TestMessageIDs(t *testing.T) {
	e, err := New(&Options{Manifest: &manifest.Manifest{Version: manifest.Version, Name: "ids", RouteSelectionExpression: "$request.body.action",
		Routes: []manifest.Route{{Key: manifest.RouteDefault}}}, Invoke: func(context.Context, *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		req, msg := e.messageIDs()
		for _, id := range []string{req, msg} {
			if !validID(id) || seen[id] {
				t.Fatalf("ID %q: valid %v, seen before %v", id, validID(id), seen[id])
			}
			b, err := base64.URLEncoding.Strict().DecodeString(id)
			if err != nil || len(b) != 11 {
				t.Fatalf("ID %q is not canonical URL-safe base64 of 11 bytes: %v", id, err)
			}
			seen[id] = true
		}
	}
}
