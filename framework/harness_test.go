package framework_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/framework/selection"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// fakeAPI is an in-memory @connections API: it records frames per
// connection and answers GoneException for connections marked gone.
type fakeAPI struct {
	mu     sync.Mutex
	frames map[string][]string
	gone   map[string]bool
	closed map[string]bool
	calls  int
	// beforeGone, if set, runs before a push to a gone connection is
	// answered 410: a test's way into the window of a release.
	beforeGone func(id string)
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{frames: map[string][]string{}, gone: map[string]bool{}, closed: map[string]bool{}}
}

func (f *fakeAPI) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	f.mu.Lock()
	if hook := f.beforeGone; hook != nil && f.gone[*in.ConnectionId] {
		f.mu.Unlock()
		hook(*in.ConnectionId)
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	f.calls++
	if f.gone[*in.ConnectionId] {
		return nil, &types.GoneException{}
	}
	f.frames[*in.ConnectionId] = append(f.frames[*in.ConnectionId], string(in.Data))
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

func (f *fakeAPI) GetConnection(ctx context.Context, in *apigatewaymanagementapi.GetConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.GetConnectionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.gone[*in.ConnectionId] {
		return nil, &types.GoneException{}
	}
	return &apigatewaymanagementapi.GetConnectionOutput{}, nil
}

func (f *fakeAPI) DeleteConnection(ctx context.Context, in *apigatewaymanagementapi.DeleteConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.gone[*in.ConnectionId] {
		return nil, &types.GoneException{}
	}
	f.closed[*in.ConnectionId] = true
	return &apigatewaymanagementapi.DeleteConnectionOutput{}, nil
}

func (f *fakeAPI) framesOf(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.frames[id]...)
}

func (f *fakeAPI) setGone(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone[id] = true
}

// harness drives an app exactly as Lambda does: events are JSON shaped like
// aws-lambda-go's own websocket fixtures, passed through lambda.NewHandler.
type harness struct {
	t     *testing.T
	store store.Store
	api   *fakeAPI
	fn    func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)
	m     *manifest.Manifest
	rse   *selection.Expression
}

func newHarness(t *testing.T, app framework.Application) *harness {
	t.Helper()
	return newHarnessWith(t, app, nil, nil)
}

// newHarnessWith is newHarness with a clock (nil: time.Now) and a
// Scheduler (nil: none).
func newHarnessWith(t *testing.T, app framework.Application, now func() time.Time, sched framework.Scheduler) *harness {
	t.Helper()
	h := &harness{t: t, store: memstore.New(&memstore.Options{Now: now}), api: newFakeAPI(), m: app.Manifest()}
	h.rse = selection.MustParse(h.m.RouteSelectionExpression)
	cb := framework.NewCallbackWithAPI(func(string) framework.CallbackAPI { return h.api }, nil)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	inv := app.Bind(&framework.Runtime{Store: h.store, Callback: cb, Logger: logger, Now: now, Scheduler: sched})
	h.fn = framework.LambdaHandler(inv)
	return h
}

func loadEvent(t *testing.T, name string) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

func (h *harness) invoke(ev events.APIGatewayWebsocketProxyRequest) events.APIGatewayProxyResponse {
	h.t.Helper()
	payload, err := json.Marshal(ev)
	if err != nil {
		h.t.Fatal(err)
	}
	// One lambda.Handler per invocation: a Lambda instance serves one event
	// at a time, and concurrent events run on separate instances.
	out, err := h.invokeRaw(payload)
	if err != nil {
		h.t.Fatalf("Invoke: %v", err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		h.t.Fatalf("response %s: %v", out, err)
	}
	return resp
}

// invokeRaw passes payload to the handler as the Lambda runtime would.
func (h *harness) invokeRaw(payload []byte) ([]byte, error) {
	return lambda.NewHandler(h.fn).Invoke(context.Background(), payload)
}

func (h *harness) connect(id string) events.APIGatewayProxyResponse {
	h.t.Helper()
	ev := loadEvent(h.t, "connect.json")
	ev.RequestContext.ConnectionID = id
	ev.RequestContext.ConnectedAt = time.Now().UnixMilli()
	ev.RequestContext.RequestTimeEpoch = ev.RequestContext.ConnectedAt
	return h.invoke(ev)
}

func (h *harness) disconnect(id string) events.APIGatewayProxyResponse {
	h.t.Helper()
	ev := loadEvent(h.t, "disconnect.json")
	ev.RequestContext.ConnectionID = id
	return h.invoke(ev)
}

// send delivers a frame with the route key API Gateway would select from the
// manifest: the expression's value if it names a route, else $default.
func (h *harness) send(id, body string) events.APIGatewayProxyResponse {
	h.t.Helper()
	ev := loadEvent(h.t, "message.json")
	ev.RequestContext.ConnectionID = id
	ev.Body = body
	ev.RequestContext.RouteKey = manifest.RouteDefault
	if key, err := h.rse.SelectBody([]byte(body)); err == nil {
		if _, ok := h.m.Route(key); ok {
			ev.RequestContext.RouteKey = key
		}
	}
	return h.invoke(ev)
}

// testWriter sends log lines to t.Log, so they show only for failing tests.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
