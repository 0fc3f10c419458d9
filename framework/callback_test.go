package framework_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mulletgo/mullet/framework"
)

// callbackServer answers @connections calls with the given statuses in turn,
// shaped like API Gateway's answers, so the real SDK client decodes them.
func callbackServer(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		status := statuses[min(int(n)-1, len(statuses)-1)]
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			t.Errorf("unsigned request")
		}
		errType := map[int]string{
			410: "GoneException", 413: "PayloadTooLargeException",
			429: "LimitExceededException", 403: "ForbiddenException",
		}[status]
		if errType != "" {
			w.Header().Set("x-amzn-ErrorType", errType)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(`{"message":null}`))
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func testConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
}

func TestCallbackErrors(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		want      error
		wantCalls int64
	}{
		{"ok", []int{200}, nil, 1},
		{"gone", []int{410}, framework.ErrGone, 1},
		{"too large", []int{413}, framework.ErrPayloadTooLarge, 1},
		{"forbidden", []int{403}, framework.ErrForbidden, 1},
		{"throttled then ok", []int{429, 429, 200}, nil, 3},
		{"throttled for good", []int{429}, framework.ErrThrottled, 4},
		{"server error then ok", []int{500, 200}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := callbackServer(t, tt.statuses...)
			cb := framework.NewCallback(testConfig(), &framework.CallbackOptions{Endpoint: srv.URL + "/prod", BaseBackoff: time.Millisecond})
			err := cb.Post(context.Background(), cb.Endpoint("ignored", "ignored"), "R1kmxc2VNjMCFIA=", []byte("hi"))
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Post = %v, want %v", err, tt.want)
			}
			if calls.Load() != tt.wantCalls {
				t.Fatalf("%d calls, want %d", calls.Load(), tt.wantCalls)
			}
		})
	}
}

func TestCallbackEndpointFromEvent(t *testing.T) {
	cb := framework.NewCallback(testConfig(), nil)
	if got := cb.Endpoint("abc.execute-api.eu-west-1.amazonaws.com", "prod"); got != "https://abc.execute-api.eu-west-1.amazonaws.com/prod" {
		t.Fatalf("Endpoint = %s", got)
	}
}

func TestCallbackContextDeadline(t *testing.T) {
	srv, _ := callbackServer(t, 429)
	cb := framework.NewCallback(testConfig(), &framework.CallbackOptions{Endpoint: srv.URL, BaseBackoff: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := cb.Post(ctx, srv.URL, "R1kmxc2VNjMCFIA=", []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Post = %v, want deadline exceeded", err)
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Fatalf("retry ignored the context deadline")
	}
}

// The callback client leaves out the SDK's informational headers but still
// signs every request, and sends the body whole.
func TestCallbackRequestHeaders(t *testing.T) {
	var got http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		body, _ = io.ReadAll(r.Body)
	}))
	t.Cleanup(srv.Close)
	cb := framework.NewCallback(testConfig(), &framework.CallbackOptions{Endpoint: srv.URL + "/prod"})
	if err := cb.Post(context.Background(), srv.URL+"/prod", "abc=", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if string(body) != "hi" || got.Get("Content-Length") != "2" {
		t.Errorf("body %q, Content-Length %q, want \"hi\", 2", body, got.Get("Content-Length"))
	}
	auth := got.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(auth, "Signature=") {
		t.Errorf("Authorization = %q, want a SigV4 signature", auth)
	}
	if got.Get("X-Amz-Date") == "" {
		t.Error("no X-Amz-Date header")
	}
	if v := got.Get("Amz-Sdk-Invocation-Id"); v != "" {
		t.Errorf("amz-sdk-invocation-id = %q, want none", v)
	}
	if ua := got.Get("User-Agent"); strings.Contains(ua, "aws-sdk-go-v2") {
		t.Errorf("User-Agent = %q, want Go's default", ua)
	}
}
