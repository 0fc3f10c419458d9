package emulator_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/manifest"
)

const emptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// upgrade dials u with header and reports the handshake's status and body
// (101 and "" when it succeeded).
func upgrade(t *testing.T, u string, header http.Header) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: header})
	if err == nil {
		c.Close(websocket.StatusNormalClosure, "")
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// signedHeader signs an upgrade of u with the SDK's signer, as a Go client
// with IAM credentials does, and returns the headers to send.
func signedHeader(t *testing.T, u string, c emulator.Credentials, at time.Time) http.Header {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, strings.Replace(u, "ws://", "http://", 1), nil)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey},
		req, emptyPayload, "execute-api", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Authorization": req.Header.Values("Authorization"), "X-Amz-Date": req.Header.Values("X-Amz-Date")}
}

// presigned presigns u with the SDK's signer, valid for expires.
func presigned(t *testing.T, u string, c emulator.Credentials, at time.Time, expires time.Duration) string {
	t.Helper()
	pu, _ := url.Parse(u)
	q := pu.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	pu.RawQuery = q.Encode()
	req, _ := http.NewRequest(http.MethodGet, pu.String(), nil)
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey},
		req, emptyPayload, "execute-api", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func iamManifest() *manifest.Manifest {
	m := testManifest()
	m.ConnectAuth = &manifest.ConnectAuth{IAM: true}
	return m
}

// TestConnectIAM: with IAM on $connect, the SDK's v4 signer's signed
// upgrade and presigned URL are accepted, and the $connect event carries
// the principal; an unsigned upgrade, a wrong secret, an unknown key, an
// expired signature and an expired presigned URL are refused with 403
// before $connect runs.
func TestConnectIAM(t *testing.T) {
	ann := emulator.Principal{Credentials: emulator.Credentials{AccessKeyID: "AKIAANNEXAMPLE", SecretAccessKey: "ann-secret"},
		AccountID: "123456789012", UserID: "AIDAANNEXAMPLE", UserARN: "arn:aws:iam::123456789012:user/ann"}
	srv, rec := startServer(t, func(o *emulator.Options) {
		o.Manifest = iamManifest()
		o.ConnectPrincipals = []emulator.Principal{ann}
	})
	u := srv.WebSocketURL()
	now := time.Now()

	for _, tc := range []struct {
		name string
		u    string
		h    http.Header
	}{
		{"signed headers", u, signedHeader(t, u, ann.Credentials, now)},
		{"presigned URL", presigned(t, u, ann.Credentials, now, 5*time.Minute), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := upgrade(t, tc.u, tc.h); status != http.StatusSwitchingProtocols {
				t.Fatalf("refused: %d %s", status, body)
			}
		})
	}
	connects := connectEvents(rec)
	if len(connects) != 2 {
		t.Fatalf("%d $connect events, want 2", len(connects))
	}
	for _, ev := range connects {
		id := ev.RequestContext.Identity
		if id.AccessKey != "AKIAANNEXAMPLE" || id.AccountID != "123456789012" || id.Caller != "AIDAANNEXAMPLE" || id.User != "AIDAANNEXAMPLE" ||
			id.UserArn != "arn:aws:iam::123456789012:user/ann" || id.SourceIP != "127.0.0.1" || id.APIKey != "" {
			t.Errorf("$connect identity %+v", id)
		}
	}

	wrong := ann.Credentials
	wrong.SecretAccessKey = "wrong"
	stranger := emulator.Credentials{AccessKeyID: "AKIASTRANGER", SecretAccessKey: "x"}
	for _, tc := range []struct {
		name      string
		u         string
		h         http.Header
		bodyStart string
	}{
		{"unsigned", u, nil, `{"message":"Forbidden"}`},
		{"wrong secret", u, signedHeader(t, u, wrong, now), `{"message":"The request signature we calculated does not match`},
		{"wrong secret, presigned", presigned(t, u, wrong, now, time.Minute), nil, `{"message":"The request signature we calculated does not match`},
		{"unknown access key", u, signedHeader(t, u, stranger, now), `{"message":"The security token included in the request is invalid."}`},
		{"expired signature", u, signedHeader(t, u, ann.Credentials, now.Add(-6*time.Minute)), `{"message":"Signature expired: `},
		{"signature from the future", u, signedHeader(t, u, ann.Credentials, now.Add(6*time.Minute)), `{"message":"Signature not yet current: `},
		{"expired presigned URL", presigned(t, u, ann.Credentials, now.Add(-2*time.Minute), time.Minute), nil, `{"message":"Signature expired: `},
		{"tampered presigned URL", strings.Replace(presigned(t, u, ann.Credentials, now, time.Minute), "X-Amz-Expires=60", "X-Amz-Expires=600", 1), nil, `{"message":"The request signature we calculated does not match`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := upgrade(t, tc.u, tc.h)
			if status != http.StatusForbidden || !strings.HasPrefix(body, tc.bodyStart) {
				t.Fatalf("got %d %s; want 403 %s...", status, body, tc.bodyStart)
			}
		})
	}
	if n := len(connectEvents(rec)); n != 2 {
		t.Fatalf("refused handshakes reached the integration: %d events", n)
	}
}

// TestConnectIAMDefaultCredentials: without ConnectPrincipals, the
// emulator's own credentials sign the upgrade.
func TestConnectIAMDefaultCredentials(t *testing.T) {
	srv, _ := startServer(t, func(o *emulator.Options) { o.Manifest = iamManifest() })
	u := srv.WebSocketURL()
	if status, body := upgrade(t, u, signedHeader(t, u, emulator.DefaultCredentials(), time.Now())); status != http.StatusSwitchingProtocols {
		t.Fatalf("refused: %d %s", status, body)
	}
}

func keysManifest(plans ...manifest.UsagePlan) *manifest.Manifest {
	m := testManifest()
	m.ConnectAuth = &manifest.ConnectAuth{APIKeys: &manifest.APIKeys{Plans: plans}}
	return m
}

// TestConnectAPIKeys: a missing or unknown key gets 403, a valid one is
// accepted with identity.apiKey and apiKeyId in $connect, a spent quota
// gets 429 Limit Exceeded and a throttled key 429 Too Many Requests, each
// key counted on its own.
func TestConnectAPIKeys(t *testing.T) {
	free := emulator.APIKey{Name: "free", Value: "free-tenant-key-0000000001", Plan: "free"}
	paid := emulator.APIKey{Name: "paid", Value: "paid-tenant-key-0000000002", Plan: "paid", ID: "paid123456"}
	burst := emulator.APIKey{Name: "burst", Value: "burst-tenant-key-000000003", Plan: "slow"}
	srv, rec := startServer(t, func(o *emulator.Options) {
		o.Manifest = keysManifest(
			manifest.UsagePlan{Name: "free", Quota: &manifest.Quota{Limit: 2, Period: "DAY"}},
			manifest.UsagePlan{Name: "paid"},
			manifest.UsagePlan{Name: "slow", Throttle: &manifest.Throttle{RatePerSecond: 0.01, Burst: 1}},
		)
		o.APIKeys = []emulator.APIKey{free, paid, burst}
	})
	u := srv.WebSocketURL()
	key := func(v string) http.Header { return http.Header{"X-Api-Key": {v}} }
	expect := func(t *testing.T, h http.Header, status int, body string) {
		t.Helper()
		gotStatus, gotBody := upgrade(t, u, h)
		if gotStatus != status || gotBody != body {
			t.Fatalf("got %d %q; want %d %q", gotStatus, gotBody, status, body)
		}
	}
	expect(t, nil, 403, `{"message":"Forbidden"}`)
	expect(t, key("not-a-key-of-this-api-0000"), 403, `{"message":"Forbidden"}`)
	expect(t, key(free.Value), 101, "")
	expect(t, key(free.Value), 101, "")
	expect(t, key(free.Value), 429, `{"message":"Limit Exceeded"}`)
	expect(t, key(paid.Value), 101, "") // another key's quota is its own
	expect(t, key(burst.Value), 101, "")
	expect(t, key(burst.Value), 429, `{"message":"Too Many Requests"}`)

	ids := map[string]string{}
	for _, ev := range connectEvents(rec) {
		ids[ev.RequestContext.Identity.APIKey] = ev.RequestContext.Identity.APIKeyID
	}
	if len(ids) != 3 || ids[paid.Value] != "paid123456" || ids[free.Value] != emulator.APIKeyID(free.Value) || len(ids[burst.Value]) != 10 {
		t.Fatalf("apiKey -> apiKeyId in $connect events: %v", ids)
	}
}

// TestConnectThrottle: new connections past the stage's (or account's)
// token bucket get 429 on the handshake.
func TestConnectThrottle(t *testing.T) {
	srv, _ := startServer(t, func(o *emulator.Options) {
		o.ConnectThrottle = &manifest.Throttle{RatePerSecond: 0.01, Burst: 2}
	})
	u := srv.WebSocketURL()
	for i, want := range []int{101, 101, 429} {
		if status, body := upgrade(t, u, nil); status != want || (want == 429 && body != `{"message":"Too Many Requests"}`) {
			t.Fatalf("connection %d: %d %s; want %d", i, status, body, want)
		}
	}
}

func TestConnectAuthOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*emulator.Options)
		want string
	}{
		{"keys without apiKeys", func(o *emulator.Options) {
			o.APIKeys = []emulator.APIKey{{Value: "0123456789abcdefghij", Plan: "p"}}
		}, "requires no API key"},
		{"short key", func(o *emulator.Options) {
			o.Manifest = keysManifest(manifest.UsagePlan{Name: "p"})
			o.APIKeys = []emulator.APIKey{{Name: "k", Value: "short", Plan: "p"}}
		}, "20 to 128"},
		{"unknown plan", func(o *emulator.Options) {
			o.Manifest = keysManifest(manifest.UsagePlan{Name: "p"})
			o.APIKeys = []emulator.APIKey{{Name: "k", Value: "0123456789abcdefghij", Plan: "gold"}}
		}, `usage plan "gold"`},
		{"principals without IAM", func(o *emulator.Options) {
			o.ConnectPrincipals = []emulator.Principal{{Credentials: emulator.DefaultCredentials()}}
		}, "does not require IAM"},
		{"zero throttle", func(o *emulator.Options) { o.ConnectThrottle = &manifest.Throttle{} }, "positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &emulator.Options{Manifest: testManifest(), Invoke: newRecorder().invoke}
			tc.mod(opts)
			if _, err := emulator.New(opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v; want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// connectEvents returns the $connect events the integration got.
func connectEvents(r *recorder) []*events.APIGatewayWebsocketProxyRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*events.APIGatewayWebsocketProxyRequest
	for _, ev := range r.events {
		if ev.RequestContext.EventType == "CONNECT" {
			out = append(out, ev)
		}
	}
	return out
}
