package emulator_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/smithy-go"

	"github.com/mulletgo/mullet/local/emulator"
)

// TestConnectionsAPISignatures checks that @connections verifies SigV4
// signatures against the emulator's credentials, as API Gateway does, with
// the unmodified SDK client.
func TestConnectionsAPISignatures(t *testing.T) {
	srv, rec := startServer(t, nil)
	c, id := dial(t, srv, rec, "sig")
	ctx := context.Background()
	post := func(api *apigatewaymanagementapi.Client, data string) error {
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte(data)})
		return err
	}
	apiError := func(t *testing.T, err error, code string) string {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != code {
			t.Fatalf("err %v; want %s", err, code)
		}
		var re interface{ HTTPStatusCode() int }
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
			t.Fatalf("err %v; want status 403", err)
		}
		return ae.ErrorMessage()
	}

	if got := srv.Emulator().Credentials(); got != emulator.DefaultCredentials() {
		t.Fatalf("Credentials() = %+v; want the defaults", got)
	}
	t.Run("wrong secret", func(t *testing.T) {
		err := post(sdkClientWith(t, srv, emulator.Credentials{AccessKeyID: emulator.DefaultAccessKeyID, SecretAccessKey: "wrong"}), "never")
		msg := apiError(t, err, "InvalidSignatureException")
		if !strings.HasPrefix(msg, "The request signature we calculated does not match the signature you provided.") {
			t.Errorf("message %q", msg)
		}
		// The canonical path the emulator computed: the SDK escapes the
		// path once more when signing, so '@' is %40 and the '=' it sent
		// as %3D is %253D.
		wantPath := "\n/test/%40connections/" + strings.ReplaceAll(id, "=", "%253D") + "\n"
		if !strings.Contains(msg, "The Canonical String for this request should have been\n'POST"+wantPath) {
			t.Errorf("message %q does not show the canonical path %q", msg, wantPath)
		}
	})
	t.Run("unknown access key", func(t *testing.T) {
		err := post(sdkClientWith(t, srv, emulator.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: emulator.DefaultSecretAccessKey}), "never")
		if msg := apiError(t, err, "UnrecognizedClientException"); msg != "The security token included in the request is invalid." {
			t.Errorf("message %q", msg)
		}
	})
	t.Run("body changed after signing", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, srv.CallbackURL()+"/@connections/"+id, strings.NewReader("tampered"))
		signRequest(t, req, "original")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
			t.Fatalf("status %d %s; want 403 InvalidSignatureException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	})
	t.Run("right credentials", func(t *testing.T) {
		if err := post(sdkClient(t, srv), "signed"); err != nil {
			t.Fatal(err)
		}
		if _, err := sdkClient(t, srv).GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	})
	// Only the correctly signed push reached the client.
	if got := read(t, c); got != "signed" {
		t.Fatalf("client read %q", got)
	}
}

func TestConnectionsAPICredentialsOptions(t *testing.T) {
	mine := emulator.Credentials{AccessKeyID: "AKIAMINE", SecretAccessKey: "my-secret"}
	t.Run("own credentials", func(t *testing.T) {
		srv, rec := startServer(t, func(o *emulator.Options) { o.Credentials = mine })
		c, id := dial(t, srv, rec, "own")
		in := &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("mine")}
		if _, err := sdkClientWith(t, srv, emulator.DefaultCredentials()).PostToConnection(context.Background(), in); err == nil {
			t.Fatal("the default credentials were accepted by an emulator with its own")
		}
		if _, err := sdkClientWith(t, srv, mine).PostToConnection(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if got := read(t, c); got != "mine" {
			t.Fatalf("client read %q", got)
		}
	})
	t.Run("any signature", func(t *testing.T) {
		srv, rec := startServer(t, func(o *emulator.Options) { o.AnySignature = true })
		c, id := dial(t, srv, rec, "any")
		in := &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("any")}
		if _, err := sdkClientWith(t, srv, mine).PostToConnection(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if got := read(t, c); got != "any" {
			t.Fatalf("client read %q", got)
		}
		// The header's shape is still required.
		if resp := rawRequest(t, http.MethodPost, srv.CallbackURL()+"/@connections/"+id, "x", false); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("unsigned: status %d", resp.StatusCode)
		}
	})
	t.Run("half a key", func(t *testing.T) {
		_, err := emulator.New(&emulator.Options{Manifest: testManifest(), Invoke: (&recorder{}).invoke, Credentials: emulator.Credentials{AccessKeyID: "x"}})
		if err == nil {
			t.Fatal("New accepted an access key without a secret")
		}
	})
}
