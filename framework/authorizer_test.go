package framework_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/store"
)

// authApp is an app whose authorizer allows "Bearer good-token" (header) or
// ?token=good-token, and whose handlers report what Authorizer returns.
type authApp struct {
	*framework.App[profile]
	calls atomic.Int64 // authorizer calls

	mu   sync.Mutex
	seen map[string]framework.AuthContext // route key -> context seen
}

func newAuthApp() *authApp {
	a := &authApp{App: framework.New[profile]("auth", nil), seen: map[string]framework.AuthContext{}}
	a.Authorize(func(ctx context.Context, req *framework.ConnectRequest) (framework.AuthContext, error) {
		a.calls.Add(1)
		tok := strings.TrimPrefix(req.Header.Get("authorization"), "Bearer ")
		if tok == "" {
			tok = req.Query.Get("token")
		}
		switch tok {
		case "":
			return nil, framework.Reject(http.StatusUnauthorized, "missing token")
		case "good-token":
			return framework.AuthContext{"principalId": "ann", "user": "ann", "admin": true, "n": 42, "ratio": 0.5}, nil
		case "empty":
			return nil, nil
		case "explode":
			panic("authorizer bug")
		case "broken":
			return nil, errors.New("token service unreachable")
		case "nested":
			return framework.AuthContext{"user": map[string]string{"name": "ann"}}, nil
		}
		return nil, framework.Reject(http.StatusForbidden, "bad token")
	}, nil)
	record := func(ctx context.Context, c *framework.Conn[profile]) error {
		ac, err := c.AuthContext(ctx)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.seen[c.RouteKey()] = ac
		a.mu.Unlock()
		return nil
	}
	a.OnConnect(record)
	a.OnDisconnect(record)
	framework.Handle(a.App, "whoami", func(ctx context.Context, c *framework.Conn[profile], _ struct{}) error {
		if err := record(ctx, c); err != nil {
			return err
		}
		ac, _ := c.AuthContext(ctx)
		return c.ReplyJSON(ctx, ac)
	}, &framework.RouteOptions{TwoWay: true})
	return a
}

func (a *authApp) seenOn(route string) framework.AuthContext {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[route]
}

func connectWith(h *harness, id string, header map[string]string, query map[string]string) events.APIGatewayProxyResponse {
	h.t.Helper()
	ev := loadEvent(h.t, "connect.json")
	ev.RequestContext.ConnectionID = id
	ev.RequestContext.ConnectedAt = time.Now().UnixMilli()
	for k, v := range header {
		ev.Headers[k] = v
		ev.MultiValueHeaders[k] = []string{v}
	}
	ev.QueryStringParameters, ev.MultiValueQueryStringParameters = nil, nil
	for k, v := range query {
		if ev.QueryStringParameters == nil {
			ev.QueryStringParameters, ev.MultiValueQueryStringParameters = map[string]string{}, map[string][]string{}
		}
		ev.QueryStringParameters[k] = v
		ev.MultiValueQueryStringParameters[k] = []string{v}
	}
	return h.invoke(ev)
}

var wantAnn = framework.AuthContext{"principalId": "ann", "user": "ann", "admin": "true", "n": "42", "ratio": "0.5"}

func TestAuthorizerAllows(t *testing.T) {
	for name, conn := range map[string]func(h *harness) events.APIGatewayProxyResponse{
		"header": func(h *harness) events.APIGatewayProxyResponse {
			// Any spelling of the header name: AWS keeps the client's.
			return connectWith(h, "c1", map[string]string{"AUTHORIZATION": "Bearer good-token"}, nil)
		},
		"query": func(h *harness) events.APIGatewayProxyResponse {
			return connectWith(h, "c1", nil, map[string]string{"token": "good-token"})
		},
	} {
		t.Run(name, func(t *testing.T) {
			app := newAuthApp()
			h := newHarness(t, app)
			if resp := conn(h); resp.StatusCode != http.StatusOK {
				t.Fatalf("$connect = %d %q", resp.StatusCode, resp.Body)
			}
			rec, err := h.store.GetConnection(context.Background(), "c1")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rec.Authorizer, map[string]string{"principalId": "ann", "user": "ann", "admin": "true", "n": "42", "ratio": "0.5"}) {
				t.Fatalf("record's authorizer context = %q", rec.Authorizer)
			}
			resp := h.send("c1", `{"action":"whoami"}`)
			var got framework.AuthContext
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || !reflect.DeepEqual(got, wantAnn) {
				t.Fatalf("whoami = %d %s (%v)", resp.StatusCode, resp.Body, err)
			}
			h.disconnect("c1")
			for _, route := range []string{"$connect", "whoami", "$disconnect"} {
				if got := app.seenOn(route); !reflect.DeepEqual(got, wantAnn) {
					t.Errorf("%s saw %v, want %v", route, got, wantAnn)
				}
			}
			if n := app.calls.Load(); n != 1 {
				t.Errorf("authorizer ran %d times, want once (at $connect)", n)
			}
		})
	}
}

func TestAuthorizerDenies(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		query  map[string]string
		status int
		body   string
	}{
		{"no token", nil, nil, http.StatusUnauthorized, "missing token"},
		{"wrong token", map[string]string{"Authorization": "Bearer nope"}, nil, http.StatusForbidden, "bad token"},
		{"wrong query token", nil, map[string]string{"token": "nope"}, http.StatusForbidden, "bad token"},
		{"authorizer error", nil, map[string]string{"token": "broken"}, http.StatusInternalServerError, "Internal server error"},
		{"authorizer panic", nil, map[string]string{"token": "explode"}, http.StatusInternalServerError, "Internal server error"},
		{"context value not a scalar", nil, map[string]string{"token": "nested"}, http.StatusInternalServerError, "Internal server error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newAuthApp()
			h := newHarness(t, app)
			resp := connectWith(h, "c1", tt.header, tt.query)
			if resp.StatusCode != tt.status || resp.Body != tt.body {
				t.Fatalf("$connect = %d %q, want %d %q", resp.StatusCode, resp.Body, tt.status, tt.body)
			}
			if _, err := h.store.GetConnection(context.Background(), "c1"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("refused connection left a record: %v", err)
			}
			if app.seenOn("$connect") != nil {
				t.Fatal("OnConnect ran for a refused connection")
			}
		})
	}
}

func TestAuthorizerEmptyContext(t *testing.T) {
	app := newAuthApp()
	h := newHarness(t, app)
	if resp := connectWith(h, "c1", nil, map[string]string{"token": "empty"}); resp.StatusCode != 200 {
		t.Fatalf("$connect = %d", resp.StatusCode)
	}
	h.send("c1", `{"action":"whoami"}`)
	for _, route := range []string{"$connect", "whoami"} {
		if got := app.seenOn(route); got == nil || len(got) != 0 {
			t.Errorf("%s saw %#v, want an empty, non-nil context", route, got)
		}
	}
}

// TestAuthorizerFromAPIGateway: when API Gateway ran a Lambda authorizer,
// the framework records its context instead of authorizing again, and
// later events' requestContext.authorizer is used as is.
func TestAuthorizerFromAPIGateway(t *testing.T) {
	app := newAuthApp()
	h := newHarness(t, app)
	gw := map[string]any{"principalId": "bob", "user": "bob", "n": float64(7), "integrationLatency": float64(12)}
	ev := loadEvent(t, "connect.json") // no token at all: only API Gateway's word
	ev.RequestContext.ConnectedAt = time.Now().UnixMilli()
	ev.RequestContext.Authorizer = gw
	if resp := h.invoke(ev); resp.StatusCode != 200 {
		t.Fatalf("$connect = %d %q", resp.StatusCode, resp.Body)
	}
	if n := app.calls.Load(); n != 0 {
		t.Fatalf("authorizer ran %d times after API Gateway's", n)
	}
	id := ev.RequestContext.ConnectionID
	rec, err := h.store.GetConnection(context.Background(), id)
	if err != nil || rec.Authorizer["user"] != "bob" || rec.Authorizer["n"] != "7" {
		t.Fatalf("record = %+v, %v", rec, err)
	}
	msg := loadEvent(t, "message.json")
	msg.RequestContext.ConnectionID, msg.RequestContext.RouteKey, msg.Body = id, "whoami", `{"action":"whoami"}`
	msg.RequestContext.Authorizer = gw
	h.invoke(msg)
	if got := app.seenOn("whoami"); !reflect.DeepEqual(got, framework.AuthContext(gw)) {
		t.Fatalf("whoami saw %v, want API Gateway's %v", got, gw)
	}
	// An event without it (e.g. a deployment whose routes were changed)
	// falls back to the record.
	msg.RequestContext.Authorizer = nil
	h.invoke(msg)
	if got := app.seenOn("whoami"); got["user"] != "bob" || got["n"] != "7" {
		t.Fatalf("whoami from the record saw %v", got)
	}
}

func TestAuthorizerWithoutOne(t *testing.T) {
	app := framework.New[struct{}]("noauth", nil)
	var got framework.AuthContext
	var gotErr error
	framework.Handle(app, "who", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		got, gotErr = c.AuthContext(ctx)
		return nil
	}, nil)
	h := newHarness(t, app)
	h.connect("c1")
	h.send("c1", `{"action":"who"}`)
	if got != nil || gotErr != nil {
		t.Fatalf("Authorizer = %v, %v; want nil, nil for an app without an authorizer", got, gotErr)
	}
}

// TestAuthorizerRecordGone: a connection whose record is gone gets an
// error, never a nil context that could pass for "no authorizer".
func TestAuthorizerRecordGone(t *testing.T) {
	app := newAuthApp()
	h := newHarness(t, app)
	connectWith(h, "c1", nil, map[string]string{"token": "good-token"})
	if err := h.store.DeleteConnection(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	ev := loadEvent(t, "message.json")
	ev.RequestContext.ConnectionID = "c1"
	ev.RequestContext.RouteKey = "whoami"
	ev.Body = `{"action":"whoami"}`
	payload, _ := json.Marshal(ev)
	if out, err := h.invokeRaw(payload); err == nil {
		t.Fatalf("whoami with the record gone answered %s; want an invocation error", out)
	}
}

// TestLambdaAuthorizer drives App.LambdaAuthorizer through aws-lambda-go
// with the REQUEST authorizer input of AWS's WebSocket documentation.
func TestLambdaAuthorizer(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "authorizer-request.json"))
	if err != nil {
		t.Fatal(err)
	}
	app := newAuthApp()
	handler := lambda.NewHandler(app.LambdaAuthorizer())
	invoke := func(mutate func(ev map[string]any)) ([]byte, error) {
		var ev map[string]any
		if err := json.Unmarshal(data, &ev); err != nil {
			t.Fatal(err)
		}
		mutate(ev)
		payload, _ := json.Marshal(ev)
		return handler.Invoke(context.Background(), payload)
	}
	setAuth := func(v string) func(ev map[string]any) {
		return func(ev map[string]any) {
			ev["headers"].(map[string]any)["authorization"] = v
			ev["multiValueHeaders"].(map[string]any)["authorization"] = []string{v}
		}
	}
	const arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/default/$connect"

	out, err := invoke(setAuth("Bearer good-token"))
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	st := resp.PolicyDocument.Statement
	if resp.PrincipalID != "ann" || len(st) != 1 || st[0].Effect != "Allow" || st[0].Resource[0] != arn || st[0].Action[0] != "execute-api:Invoke" {
		t.Fatalf("allow response = %s", out)
	}
	wantCtx := map[string]any{"user": "ann", "admin": true, "n": float64(42), "ratio": 0.5}
	if !reflect.DeepEqual(resp.Context, wantCtx) {
		t.Fatalf("context = %v, want %v (principalId goes to principalId)", resp.Context, wantCtx)
	}

	out, err = invoke(setAuth("Bearer nope"))
	if err != nil {
		t.Fatal(err)
	}
	resp = events.APIGatewayCustomAuthorizerResponse{}
	if err := json.Unmarshal(out, &resp); err != nil || resp.PolicyDocument.Statement[0].Effect != "Deny" || resp.Context != nil {
		t.Fatalf("403 gives %s, want a Deny policy", out)
	}

	if _, err := invoke(setAuth("")); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Fatalf("401 gives %v, want the Unauthorized error", err)
	}
	if _, err := invoke(setAuth("Bearer broken")); err == nil || !strings.Contains(err.Error(), "token service unreachable") {
		t.Fatalf("failing authorizer gives %v", err)
	}
	if _, err := invoke(setAuth("Bearer nested")); err == nil || !strings.Contains(err.Error(), `key "user"`) {
		t.Fatalf("bad context value gives %v", err)
	}
}

func TestLambdaAuthorizerNeedsAnAuthorizer(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "app.Authorize") {
			t.Fatalf("panic %v", r)
		}
	}()
	framework.New[struct{}]("x", nil).LambdaAuthorizer()
}
