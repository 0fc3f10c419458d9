package callbackfault_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest/callbackfault"
)

// okAPI accepts every call and records posts.
type okAPI struct {
	mu    sync.Mutex
	posts map[string]int
}

func (a *okAPI) PostToConnection(_ context.Context, in *apigatewaymanagementapi.PostToConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.posts == nil {
		a.posts = map[string]int{}
	}
	a.posts[*in.ConnectionId]++
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

func (a *okAPI) GetConnection(context.Context, *apigatewaymanagementapi.GetConnectionInput, ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.GetConnectionOutput, error) {
	return &apigatewaymanagementapi.GetConnectionOutput{}, nil
}

func (a *okAPI) DeleteConnection(context.Context, *apigatewaymanagementapi.DeleteConnectionInput, ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error) {
	return &apigatewaymanagementapi.DeleteConnectionOutput{}, nil
}

const id = "R1kmxc2VNjMCFIA="

func callback(f *callbackfault.Faults, inner framework.CallbackAPI) *framework.Callback {
	return framework.NewCallbackWithAPI(func(string) framework.CallbackAPI { return f.Wrap(inner) },
		&framework.CallbackOptions{Endpoint: "http://x/local", BaseBackoff: time.Millisecond})
}

// TestAPIErrorsMapToFrameworkErrors: every injected fault is recognized by
// the framework's callback client: 410 is ErrGone and not retried, 429 and
// 5xx are retried.
func TestAPIErrorsMapToFrameworkErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		opts      callbackfault.Options
		gone      bool
		want      error // nil: delivered
		wantCalls int64
	}{
		{"gone", callbackfault.Options{}, true, framework.ErrGone, 1},
		{"throttled twice, then delivered", callbackfault.Options{Throttle: 1, MaxConsecutive: 2}, false, nil, 3},
		{"server errors three times, then delivered", callbackfault.Options{ServerError: 1, MaxConsecutive: 3}, false, nil, 4},
		{"throttled for good", callbackfault.Options{Throttle: 1}, false, framework.ErrThrottled, 4},
		{"no faults", callbackfault.Options{}, false, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := callbackfault.New(tt.opts)
			if tt.gone {
				f.SetGone(id)
			}
			inner := &okAPI{}
			cb := callback(f, inner)
			err := cb.Post(ctx, cb.Endpoint("", ""), id, []byte("hi"))
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Post = %v, want %v", err, tt.want)
			}
			if got := f.Stats().Calls; got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			delivered := inner.posts[id]
			if (tt.want == nil) != (delivered == 1) {
				t.Errorf("delivered %d times", delivered)
			}
		})
	}
	// A server error that never stops is reported as one after the
	// attempts run out.
	f := callbackfault.New(callbackfault.Options{ServerError: 1})
	cb := callback(f, &okAPI{})
	if err := cb.Post(ctx, cb.Endpoint("", ""), id, nil); err == nil || errors.Is(err, framework.ErrGone) || errors.Is(err, framework.ErrThrottled) {
		t.Fatalf("persistent 5xx: %v", err)
	}
}

// TestTransportThroughTheSDK: faults injected at the HTTP layer are parsed
// by the real SDK client into the exceptions the framework maps.
func TestTransportThroughTheSDK(t *testing.T) {
	var served int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	newCallback := func(f *callbackfault.Faults) *framework.Callback {
		cfg := aws.Config{
			Region:      "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
			HTTPClient:  &http.Client{Transport: &callbackfault.Transport{Faults: f}},
		}
		return framework.NewCallback(cfg, &framework.CallbackOptions{Endpoint: srv.URL + "/local", BaseBackoff: time.Millisecond})
	}
	ctx := context.Background()

	f := callbackfault.New(callbackfault.Options{})
	f.SetGone(id)
	cb := newCallback(f)
	if err := cb.Post(ctx, cb.Endpoint("", ""), id, []byte("x")); !errors.Is(err, framework.ErrGone) {
		t.Fatalf("gone: %v", err)
	}
	if _, err := cb.Info(ctx, cb.Endpoint("", ""), id); !errors.Is(err, framework.ErrGone) {
		t.Fatalf("gone GetConnection: %v", err)
	}
	if err := cb.Delete(ctx, cb.Endpoint("", ""), id); !errors.Is(err, framework.ErrGone) {
		t.Fatalf("gone DeleteConnection: %v", err)
	}

	f = callbackfault.New(callbackfault.Options{Throttle: 0.5, ServerError: 0.5, MaxConsecutive: 3, Seed: 7})
	cb = newCallback(f)
	for i := 0; i < 20; i++ {
		if err := cb.Post(ctx, cb.Endpoint("", ""), id, []byte("x")); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	st := f.Stats()
	if st.Throttled == 0 || st.ServerErrors == 0 {
		t.Fatalf("stats %+v: expected both kinds of fault", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if served != 20 {
		t.Fatalf("server saw %d posts, want 20 (one per delivered post)", served)
	}
}
