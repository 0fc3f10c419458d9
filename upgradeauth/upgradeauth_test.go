package upgradeauth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/coder/websocket"

	"github.com/aws/aws-lambda-go/events"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/upgradeauth"
)

// TestSignerAgainstEmulator: both signing modes, with an API key, are
// accepted by the emulator of an API that requires IAM and API keys; a
// wrong secret is refused.
func TestSignerAgainstEmulator(t *testing.T) {
	m := &manifest.Manifest{
		Version: manifest.Version, Name: "signed", RouteSelectionExpression: "$request.body.action",
		Routes:      []manifest.Route{{Key: manifest.RouteConnect}, {Key: manifest.RouteDisconnect}},
		ConnectAuth: &manifest.ConnectAuth{IAM: true, APIKeys: &manifest.APIKeys{Plans: []manifest.UsagePlan{{Name: "p"}}}},
	}
	const key = "upgradeauth-test-key-0001"
	srv, err := emulator.Listen("127.0.0.1:0", &emulator.Options{
		Manifest: m, APIKeys: []emulator.APIKey{{Name: "k", Value: key, Plan: "p"}},
		Invoke: func(context.Context, *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx)
	c := emulator.DefaultCredentials()
	good := credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")
	bad := credentials.NewStaticCredentialsProvider(c.AccessKeyID, "wrong", "")
	for _, tc := range []struct {
		name   string
		signer *upgradeauth.Signer
		status int
	}{
		{"headers", &upgradeauth.Signer{Credentials: good, Region: "us-east-1"}, 101},
		{"presigned", &upgradeauth.Signer{Credentials: good, Region: "eu-west-1", Presign: true, Expires: time.Minute}, 101},
		{"wrong secret", &upgradeauth.Signer{Credentials: bad, Region: "us-east-1"}, 403},
		{"wrong secret, presigned", &upgradeauth.Signer{Credentials: bad, Region: "us-east-1", Presign: true}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.WebSocketURL(), nil)
			if err := upgradeauth.APIKey(key)(ctx, req); err != nil {
				t.Fatal(err)
			}
			if err := tc.signer.Sign(ctx, req); err != nil {
				t.Fatal(err)
			}
			conn, resp, err := websocket.Dial(ctx, req.URL.String(), &websocket.DialOptions{HTTPHeader: req.Header})
			status := 101
			if err != nil {
				if resp == nil {
					t.Fatal(err)
				}
				status = resp.StatusCode
			} else {
				conn.CloseNow()
			}
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, err)
			}
		})
	}
	if err := (&upgradeauth.Signer{}).Sign(ctx, &http.Request{}); err != upgradeauth.ErrNoCredentials {
		t.Fatalf("empty Signer: %v", err)
	}
}
