package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/manifest"
)

// keys returns the sorted keys of a JSON object, and those of its nested
// objects as "parent.child".
func keys(t testing.TB, data []byte) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	var out []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			out = append(out, prefix+k)
			// Header and query maps hold data, not fields.
			if sub, ok := v.(map[string]any); ok && (k == "requestContext" || k == "identity") {
				walk(prefix+k+".", sub)
			}
		}
	}
	walk("", m)
	slices.Sort(out)
	return out
}

func fixtureKeys(t testing.TB, name string) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return keys(t, data)
}

func eventKeys(t testing.TB, ev *events.APIGatewayWebsocketProxyRequest) []string {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return keys(t, data)
}

func checkTimes(t testing.TB, rc events.APIGatewayWebsocketProxyRequestContext) {
	t.Helper()
	rt, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.RequestTime)
	if err != nil || !strings.HasSuffix(rc.RequestTime, " +0000") {
		t.Errorf("requestTime %q is not in API Gateway's format: %v", rc.RequestTime, err)
	}
	if d := rt.Sub(time.UnixMilli(rc.RequestTimeEpoch)); d < -time.Second || d > time.Second {
		t.Errorf("requestTime %s and requestTimeEpoch %d disagree", rc.RequestTime, rc.RequestTimeEpoch)
	}
	if now := time.Now().UnixMilli(); rc.ConnectedAt > rc.RequestTimeEpoch || now-rc.ConnectedAt > 60_000 {
		t.Errorf("connectedAt %d, requestTimeEpoch %d, now %d: not milliseconds of this test", rc.ConnectedAt, rc.RequestTimeEpoch, now)
	}
}

func TestConnectEvent(t *testing.T) {
	srv, rec := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.WebSocketURL()+"?room=a&room=b&x=1", &websocket.DialOptions{
		HTTPHeader: http.Header{"X-Client": {"connect"}, "User-Agent": {"emutest/1"}, "X-Forwarded-For": {"10.9.8.7"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	ev := rec.connectEvent(t, "connect")
	rc := ev.RequestContext

	want := []string{
		"headers", "isBase64Encoded", "multiValueHeaders", "multiValueQueryStringParameters", "queryStringParameters",
		"requestContext", "requestContext.apiId", "requestContext.connectedAt", "requestContext.connectionId",
		"requestContext.domainName", "requestContext.eventType", "requestContext.extendedRequestId",
		"requestContext.identity", "requestContext.identity.sourceIp", "requestContext.identity.userAgent",
		"requestContext.messageDirection", "requestContext.requestId", "requestContext.requestTime",
		"requestContext.requestTimeEpoch", "requestContext.routeKey", "requestContext.stage",
	}
	if got := eventKeys(t, ev); !slices.Equal(got, want) {
		t.Errorf("$connect keys\n got %v\nwant %v", got, want)
	}
	if rc.RouteKey != "$connect" || rc.EventType != "CONNECT" || rc.MessageDirection != "IN" {
		t.Errorf("routeKey %q eventType %q messageDirection %q", rc.RouteKey, rc.EventType, rc.MessageDirection)
	}
	if rc.Stage != "test" || rc.APIID != "abcdefghij" || rc.DomainName != srv.Addr().String() {
		t.Errorf("stage %q apiId %q domainName %q; want test, abcdefghij, %s", rc.Stage, rc.APIID, rc.DomainName, srv.Addr())
	}
	// sourceIp is the TCP peer; X-Forwarded-For from the client is not trusted.
	if rc.Identity.SourceIP != "127.0.0.1" || rc.Identity.UserAgent != "emutest/1" {
		t.Errorf("identity %+v", rc.Identity)
	}
	checkID(t, "connectionId", rc.ConnectionID)
	checkID(t, "requestId", rc.RequestID)
	if rc.ExtendedRequestID != rc.RequestID || rc.MessageID != nil {
		t.Errorf("extendedRequestId %q requestId %q messageId %v", rc.ExtendedRequestID, rc.RequestID, rc.MessageID)
	}
	if rc.ConnectedAt != rc.RequestTimeEpoch {
		t.Errorf("$connect connectedAt %d != requestTimeEpoch %d", rc.ConnectedAt, rc.RequestTimeEpoch)
	}
	checkTimes(t, rc)
	if ev.Headers["Host"] != srv.Addr().String() || ev.Headers["X-Client"] != "connect" ||
		ev.Headers["X-Forwarded-For"] != "10.9.8.7, 127.0.0.1" || ev.Headers["X-Forwarded-Proto"] != "http" {
		t.Errorf("headers %v", ev.Headers)
	}
	if id := ev.Headers["X-Amzn-Trace-Id"]; !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`).MatchString(id) {
		t.Errorf("X-Amzn-Trace-Id %q; want Root=1-{8 hex}-{24 hex}", id)
	}
	if got := ev.MultiValueQueryStringParameters["room"]; !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("multiValueQueryStringParameters[room] = %v", got)
	}
	if want := map[string]string{"room": "b", "x": "1"}; !maps.Equal(ev.QueryStringParameters, want) {
		t.Errorf("queryStringParameters = %v; want %v", ev.QueryStringParameters, want)
	}
	if ev.Body != "" || ev.IsBase64Encoded {
		t.Errorf("body %q isBase64Encoded %v", ev.Body, ev.IsBase64Encoded)
	}
}

func TestMessageEvent(t *testing.T) {
	srv, rec := startServer(t, nil)
	c, id := dial(t, srv, rec, "msg")
	body := `{"action":"echo","n":1}`
	if got := roundTrip(t, c, body); got != "echo "+body {
		t.Fatalf("reply %q", got)
	}
	ev := rec.routed(id)[0]
	if got, want := eventKeys(t, ev), fixtureKeys(t, "message.json"); !slices.Equal(got, want) {
		t.Errorf("MESSAGE keys differ from API Gateway's\n got %v\nwant %v", got, want)
	}
	rc := ev.RequestContext
	if rc.RouteKey != "echo" || rc.EventType != "MESSAGE" || rc.MessageDirection != "IN" || ev.Body != body || ev.IsBase64Encoded {
		t.Errorf("event %+v body %q", rc, ev.Body)
	}
	messageID, _ := rc.MessageID.(string)
	checkID(t, "messageId", messageID)
	checkID(t, "requestId", rc.RequestID)
	if rc.ConnectionID != id || rc.ExtendedRequestID != rc.RequestID || messageID == rc.RequestID {
		t.Errorf("connectionId %q extendedRequestId %q requestId %q messageId %q", rc.ConnectionID, rc.ExtendedRequestID, rc.RequestID, messageID)
	}
	checkTimes(t, rc)
}

func TestDisconnectEvent(t *testing.T) {
	srv, rec := startServer(t, nil)
	tests := []struct {
		name   string
		close  func(c *websocket.Conn)
		code   int64
		reason string
	}{
		{name: "normal", close: func(c *websocket.Conn) { _ = c.Close(websocket.StatusNormalClosure, "bye") }, code: 1000, reason: "bye"},
		{name: "going-away", close: func(c *websocket.Conn) { _ = c.Close(websocket.StatusGoingAway, "") }, code: 1001, reason: ""},
		{name: "app-code", close: func(c *websocket.Conn) { _ = c.Close(4001, "custom") }, code: 4001, reason: "custom"},
		{name: "no-status", close: func(c *websocket.Conn) { _ = c.Close(websocket.StatusNoStatusRcvd, "") }, code: 1005, reason: "Client-side close frame status not set"},
		{name: "tcp-drop", close: func(c *websocket.Conn) { _ = c.CloseNow() }, code: 1006, reason: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, id := dial(t, srv, rec, "disc-"+tt.name)
			tt.close(c)
			ev := rec.disconnectEvent(t, id)
			rc := ev.RequestContext
			if rc.DisconnectStatusCode != tt.code || rc.DisconnectReason == nil || *rc.DisconnectReason != tt.reason {
				t.Errorf("disconnectStatusCode %d disconnectReason %v; want %d %q", rc.DisconnectStatusCode, rc.DisconnectReason, tt.code, tt.reason)
			}
			if got, want := eventKeys(t, ev), fixtureKeys(t, "disconnect.json"); !slices.Equal(got, want) {
				t.Errorf("DISCONNECT keys differ from API Gateway's\n got %v\nwant %v", got, want)
			}
			if rc.RouteKey != "$disconnect" || rc.EventType != "DISCONNECT" || ev.Headers["Host"] != srv.Addr().String() {
				t.Errorf("routeKey %q eventType %q headers %v", rc.RouteKey, rc.EventType, ev.Headers)
			}
			checkTimes(t, rc)
		})
	}
}

func TestConnectRejection(t *testing.T) {
	srv, rec := startServer(t, nil)
	rec.handle = func(_ context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, bool, error) {
		if ev.RequestContext.EventType != "CONNECT" {
			return events.APIGatewayProxyResponse{}, false, nil
		}
		switch ev.Headers["X-Client"] {
		case "401":
			return events.APIGatewayProxyResponse{StatusCode: 401}, true, nil
		case "403":
			return events.APIGatewayProxyResponse{StatusCode: 403, Body: "no"}, true, nil
		case "302":
			return events.APIGatewayProxyResponse{StatusCode: 302}, true, nil
		case "error":
			return events.APIGatewayProxyResponse{}, true, errors.New("boom")
		case "panic":
			panic("boom")
		case "204":
			return events.APIGatewayProxyResponse{StatusCode: 204}, true, nil
		case "zero":
			return events.APIGatewayProxyResponse{}, true, nil
		}
		return events.APIGatewayProxyResponse{}, false, nil
	}
	tests := []struct {
		client string
		status int // 0: accepted
	}{
		{client: "401", status: 401},
		{client: "403", status: 403},
		{client: "302", status: 302},
		// An integration that throws gives 502, not 500.
		{client: "error", status: 502},
		{client: "panic", status: 502},
		{client: "204"},
		{client: "zero"},
	}
	for _, tt := range tests {
		t.Run(tt.client, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, srv.WebSocketURL(), &websocket.DialOptions{HTTPHeader: http.Header{"X-Client": {tt.client}}})
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				_ = c.Close(websocket.StatusNormalClosure, "")
				return
			}
			if err == nil {
				_ = c.CloseNow()
				t.Fatalf("dial succeeded; want the handshake rejected with %d", tt.status)
			}
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("dial: %v, response %v; want HTTP %d", err, resp, tt.status)
			}
		})
	}
	// Rejections never fire $disconnect (checked in cleanup) and leave the
	// server serving.
	c, _ := dial(t, srv, rec, "after")
	if got := roundTrip(t, c, `{"action":"echo"}`); got != `echo {"action":"echo"}` {
		t.Fatalf("reply %q", got)
	}
}

func TestConnectionIsGoneDuringConnect(t *testing.T) {
	srv, rec := startServer(t, nil)
	var status atomic.Int64
	rec.handle = func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, bool, error) {
		if ev.RequestContext.EventType != "CONNECT" {
			return events.APIGatewayProxyResponse{}, false, nil
		}
		resp := rawRequest(t, http.MethodPost, srv.CallbackURL()+"/@connections/"+ev.RequestContext.ConnectionID, "early", true)
		status.Store(int64(resp.StatusCode))
		return events.APIGatewayProxyResponse{StatusCode: 200}, true, nil
	}
	c, id := dial(t, srv, rec, "early")
	if got := status.Load(); got != http.StatusGone {
		t.Errorf("POST to the connection during its $connect: %d; want 410, as API Gateway", got)
	}
	// Once established it is reachable.
	if resp := rawRequest(t, http.MethodPost, srv.CallbackURL()+"/@connections/"+id, "late", true); resp.StatusCode != 200 {
		t.Fatalf("POST after $connect: %d", resp.StatusCode)
	}
	if got := read(t, c); got != "late" {
		t.Fatalf("read %q", got)
	}
}

func TestRouteSelection(t *testing.T) {
	srv, rec := startServer(t, nil)
	c, _ := dial(t, srv, rec, "routes")
	tests := []struct{ name, body, route string }{
		{name: "custom route", body: `{"action":"echo","x":1}`, route: "echo"},
		{name: "default explicitly", body: `{"action":"$default"}`, route: "$default"},
		{name: "not json", body: `hello world`, route: "$default"},
		{name: "json array", body: `[1,2]`, route: "$default"},
		{name: "missing field", body: `{"type":"echo"}`, route: "$default"},
		{name: "null field", body: `{"action":null}`, route: "$default"},
		{name: "unknown route", body: `{"action":"nosuch"}`, route: "$default"},
		{name: "reserved route", body: `{"action":"$connect"}`, route: "$default"},
		{name: "empty", body: ``, route: "$default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := roundTrip(t, c, tt.body), tt.route+" "+tt.body; got != want {
				t.Fatalf("reply %q; want %q", got, want)
			}
		})
	}
}

func TestTemplateRouteSelection(t *testing.T) {
	srv, rec := startServer(t, func(o *emulator.Options) {
		o.Manifest = &manifest.Manifest{
			Version:                  manifest.Version,
			Name:                     "template",
			RouteSelectionExpression: "${request.body.service}/${request.body.action}",
			Routes: []manifest.Route{
				{Key: manifest.RouteConnect},
				{Key: manifest.RouteDisconnect},
				{Key: "chat/send", TwoWay: true},
				{Key: manifest.RouteDefault, TwoWay: true},
			},
		}
	})
	c, _ := dial(t, srv, rec, "template")
	for body, route := range map[string]string{
		`{"service":"chat","action":"send"}`: "chat/send",
		`{"service":"chat","action":"join"}`: "$default",
		`{"action":"send"}`:                  "$default",
	} {
		if got, want := roundTrip(t, c, body), route+" "+body; got != want {
			t.Errorf("reply %q; want %q", got, want)
		}
	}
}

func TestNoRouteWithoutDefaultIsForbidden(t *testing.T) {
	srv, rec := startServer(t, func(o *emulator.Options) {
		o.Manifest.Routes = slices.DeleteFunc(o.Manifest.Routes, func(r manifest.Route) bool { return r.Key == manifest.RouteDefault })
	})
	c, id := dial(t, srv, rec, "forbidden")
	for _, body := range []string{`{"action":"nosuch"}`, `not json`, `{}`} {
		parseErrorFrame(t, roundTrip(t, c, body), "Forbidden", id)
	}
	// The connection stays open and the integration was never invoked.
	if got := roundTrip(t, c, `{"action":"echo"}`); got != `echo {"action":"echo"}` {
		t.Fatalf("reply %q", got)
	}
	if n := len(rec.routed(id)); n != 1 {
		t.Fatalf("integration invoked %d times; want 1 (only the echo)", n)
	}
}

func TestRequestModelValidation(t *testing.T) {
	srv, rec := startServer(t, nil)
	c, id := dial(t, srv, rec, "model")
	for _, body := range []string{
		`{"action":"strict"}`,
		`{"action":"strict","name":""}`,
		`{"action":"strict","name":"bob","extra":1}`,
		`{"action":"strict","name":42}`,
	} {
		parseErrorFrame(t, roundTrip(t, c, body), "Invalid request body", id)
	}
	if n := len(rec.routed(id)); n != 0 {
		t.Fatalf("integration invoked %d times for invalid bodies; want 0", n)
	}
	body := `{"action":"strict","name":"bob"}`
	if got := roundTrip(t, c, body); got != "strict "+body {
		t.Fatalf("reply %q", got)
	}
}

func TestRouteResponses(t *testing.T) {
	srv, rec := startServer(t, nil)
	rec.handle = func(_ context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, bool, error) {
		if ev.Body == "empty" {
			return events.APIGatewayProxyResponse{StatusCode: 200}, true, nil
		}
		if ev.Body == "teapot" {
			return events.APIGatewayProxyResponse{StatusCode: 418, Body: "short and stout"}, true, nil
		}
		return events.APIGatewayProxyResponse{}, false, nil
	}
	c, id := dial(t, srv, rec, "responses")
	// A one-way route and a two-way route with an empty body send nothing:
	// the next frame is the reply to the message after them.
	send(t, c, `{"action":"oneway"}`)
	send(t, c, `empty`)
	rec.waitRouted(t, id, 2)
	if got := roundTrip(t, c, `{"action":"echo"}`); got != `echo {"action":"echo"}` {
		t.Fatalf("reply %q; want the echo (one-way routes answer nothing)", got)
	}
	// A 4xx response's body is still the route response.
	if got := roundTrip(t, c, `teapot`); got != "short and stout" {
		t.Fatalf("reply %q", got)
	}
}

func TestIntegrationErrors(t *testing.T) {
	srv, rec := startServer(t, func(o *emulator.Options) { o.IntegrationTimeout = 100 * time.Millisecond })
	rec.handle = func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, bool, error) {
		switch ev.Body {
		case "slow":
			<-ctx.Done()
			return events.APIGatewayProxyResponse{}, true, ctx.Err()
		case "panic":
			panic("handler panicked")
		}
		return events.APIGatewayProxyResponse{}, false, nil
	}
	c, id := dial(t, srv, rec, "errors")
	tests := []struct{ body, message string }{
		{body: `{"action":"fail"}`, message: "Internal server error"},
		{body: `{"action":"failoneway"}`, message: "Internal server error"},
		{body: `panic`, message: "Internal server error"},
		{body: `slow`, message: "Endpoint request timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			parseErrorFrame(t, roundTrip(t, c, tt.body), tt.message, id)
		})
	}
	if got := roundTrip(t, c, `{"action":"echo"}`); got != `echo {"action":"echo"}` {
		t.Fatalf("connection unusable after errors: %q", got)
	}
}

// TestReturned5xxIsNotAnError: API Gateway sends its Internal server error
// frame only for an invocation error. A returned statusCode >= 500 sends a
// one-way caller nothing and a two-way caller the body, as wscat against a
// deployed API showed (middyjs/middy#1219, Stack Overflow 56394190).
func TestReturned5xxIsNotAnError(t *testing.T) {
	srv, rec := startServer(t, nil)
	rec.handle = func(_ context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, bool, error) {
		if ev.RequestContext.RouteKey == "oneway" {
			return events.APIGatewayProxyResponse{StatusCode: 501, Body: "not for the client"}, true, nil
		}
		return events.APIGatewayProxyResponse{}, false, nil
	}
	c, id := dial(t, srv, rec, "5xx")
	if got := roundTrip(t, c, `{"action":"fail502"}`); got != "bad gateway body" {
		t.Fatalf("two-way route returning 502: got %q; want its body as the route response", got)
	}
	send(t, c, `{"action":"oneway"}`)
	rec.waitRouted(t, id, 2)
	if got := roundTrip(t, c, `{"action":"echo"}`); got != `echo {"action":"echo"}` {
		t.Fatalf("one-way route returning 501 sent %q; want nothing", got)
	}
}

func TestConcurrentInvocations(t *testing.T) {
	srv, rec := startServer(t, nil)
	release := make(chan struct{})
	rec.handle = func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, bool, error) {
		switch ev.Body {
		case "first":
			select {
			case <-release:
			case <-ctx.Done():
				return events.APIGatewayProxyResponse{}, true, ctx.Err()
			}
		}
		return events.APIGatewayProxyResponse{}, false, nil
	}
	c, _ := dial(t, srv, rec, "concurrent")
	// The first invocation waits until the second has been answered: only
	// concurrent invocations can answer both. (Releasing the first from
	// the second invocation instead would race the two replies.)
	send(t, c, "first")
	send(t, c, "second")
	a := read(t, c)
	close(release)
	if b := read(t, c); a != "$default second" || b != "$default first" {
		t.Fatalf("replies %q, %q; want the second before the first", a, b)
	}
}

func TestBinaryFrameCloses1003(t *testing.T) {
	srv, rec := startServer(t, nil)
	bystander, _ := dial(t, srv, rec, "bystander")
	c, id := dial(t, srv, rec, "binary")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageBinary, []byte(`{"action":"echo"}`)); err != nil {
		t.Fatal(err)
	}
	expectClose(t, c, websocket.StatusUnsupportedData)
	if rc := rec.disconnectEvent(t, id).RequestContext; rc.DisconnectStatusCode != 1003 {
		t.Errorf("disconnectStatusCode %d; want 1003", rc.DisconnectStatusCode)
	}
	if n := len(rec.routed(id)); n != 0 {
		t.Errorf("binary frame invoked the integration %d times", n)
	}
	if got := roundTrip(t, bystander, `{"action":"echo"}`); got != `echo {"action":"echo"}` {
		t.Fatalf("other connection affected: %q", got)
	}
}

// writeFragments sends msg as one text message in frames of size bytes.
func writeFragments(t testing.TB, c *websocket.Conn, msg []byte, size int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	w, err := c.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	for len(msg) > 0 {
		n := min(size, len(msg))
		if _, err := w.Write(msg[:n]); err != nil {
			t.Fatal(err)
		}
		msg = msg[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSizeLimits(t *testing.T) {
	srv, rec := startServer(t, nil)
	bystander, _ := dial(t, srv, rec, "bystander")
	const kb = 1024
	tests := []struct {
		name      string
		size      int // message size
		fragment  int // frame size
		wantClose bool
	}{
		{name: "32KiB frame", size: 32 * kb, fragment: 32 * kb},
		{name: "33KiB frame", size: 33 * kb, fragment: 33 * kb, wantClose: true},
		{name: "100KiB in 25KiB fragments", size: 100 * kb, fragment: 25 * kb},
		{name: "128KiB in 32KiB fragments", size: 128 * kb, fragment: 32 * kb},
		{name: "129KiB in 22KiB fragments", size: 129 * kb, fragment: 22 * kb, wantClose: true},
		{name: "129KiB frame", size: 129 * kb, fragment: 129 * kb, wantClose: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, id := dial(t, srv, rec, tt.name)
			msg := []byte(strings.Repeat("x", tt.size))
			writeFragments(t, c, msg, tt.fragment)
			if tt.wantClose {
				expectClose(t, c, websocket.StatusMessageTooBig)
				rc := rec.disconnectEvent(t, id).RequestContext
				if rc.DisconnectStatusCode != 1009 {
					t.Errorf("disconnectStatusCode %d; want 1009", rc.DisconnectStatusCode)
				}
				if n := len(rec.routed(id)); n != 0 {
					t.Errorf("oversized message invoked the integration %d times", n)
				}
			} else {
				// The reply is larger than a frame: the emulator fragments it
				// and the client reassembles it.
				if got := read(t, c); got != "$default "+string(msg) {
					t.Fatalf("reply of %d bytes; want %d", len(got), len("$default ")+len(msg))
				}
				_ = c.Close(websocket.StatusNormalClosure, "")
			}
			if got := roundTrip(t, bystander, `{"action":"echo"}`); got != `echo {"action":"echo"}` {
				t.Fatalf("other connection affected: %q", got)
			}
		})
	}
}

func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	srv, rec := startServer(t, func(o *emulator.Options) { o.IdleTimeout = idle })
	quiet, quietID := dial(t, srv, rec, "quiet")
	busy, busyID := dial(t, srv, rec, "busy")

	start := time.Now()
	// Messages keep a connection alive for several idle timeouts.
	for time.Since(start) < 3*idle {
		if got := roundTrip(t, busy, "ping"); got != "$default ping" {
			t.Fatalf("busy reply %q", got)
		}
		time.Sleep(idle / 10)
	}
	expectClose(t, quiet, websocket.StatusGoingAway)
	rc := rec.disconnectEvent(t, quietID).RequestContext
	if rc.DisconnectStatusCode != 1001 || *rc.DisconnectReason != "Going away" {
		t.Errorf("quiet: %d %q; want 1001 \"Going away\"", rc.DisconnectStatusCode, *rc.DisconnectReason)
	}
	expectClose(t, busy, websocket.StatusGoingAway)
	if rc := rec.disconnectEvent(t, busyID).RequestContext; rc.DisconnectStatusCode != 1001 {
		t.Errorf("busy: %d; want 1001", rc.DisconnectStatusCode)
	}
}

func TestMaxDuration(t *testing.T) {
	const maxDuration = 300 * time.Millisecond
	srv, rec := startServer(t, func(o *emulator.Options) { o.MaxDuration = maxDuration })
	c, id := dial(t, srv, rec, "long")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// Stay active; the connection still ends at MaxDuration.
	for {
		if err := c.Write(ctx, websocket.MessageText, []byte("tick")); err != nil {
			break
		}
		if _, _, err := c.Read(ctx); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Fatalf("ended with %v; want close 1001", err)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := time.Since(start); d < maxDuration-50*time.Millisecond || d > wait {
		t.Errorf("closed after %v; want about %v", d, maxDuration)
	}
	if rc := rec.disconnectEvent(t, id).RequestContext; rc.DisconnectStatusCode != 1001 || *rc.DisconnectReason != "Going away" {
		t.Errorf("%d %q; want 1001 \"Going away\"", rc.DisconnectStatusCode, *rc.DisconnectReason)
	}
}

func TestPingKeepsConnectionAlive(t *testing.T) {
	const idle = 300 * time.Millisecond
	srv, rec := startServer(t, func(o *emulator.Options) { o.IdleTimeout = idle })
	c, id := dial(t, srv, rec, "pinger")
	ctx := c.CloseRead(context.Background()) // a reader must run for Ping to get its pong
	start := time.Now()
	for time.Since(start) < 3*idle {
		pctx, cancel := context.WithTimeout(ctx, wait)
		err := c.Ping(pctx)
		cancel()
		if err != nil {
			t.Fatalf("ping after %v: %v", time.Since(start), err)
		}
		time.Sleep(idle / 10)
	}
	select {
	case <-ctx.Done(): // closed by the idle timeout once the pings stop
	case <-time.After(wait):
		t.Fatal("connection not closed after the pings stopped")
	}
	if rc := rec.disconnectEvent(t, id).RequestContext; rc.DisconnectStatusCode != 1001 {
		t.Errorf("disconnectStatusCode %d; want 1001", rc.DisconnectStatusCode)
	}
}

func TestShutdownClosesConnections(t *testing.T) {
	rec := newRecorder()
	srv, err := emulator.Listen("127.0.0.1:0", &emulator.Options{Manifest: testManifest(), Invoke: rec.invoke})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(context.Background()) }()
	var conns []*websocket.Conn
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		c, id := dial(t, srv, rec, name)
		conns = append(conns, c)
		ids = append(ids, id)
	}
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	for _, c := range conns {
		expectClose(t, c, websocket.StatusGoingAway)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, id := range ids {
		if rc := rec.disconnectEvent(t, id).RequestContext; rc.DisconnectStatusCode != 1001 || *rc.DisconnectReason != "Going away" {
			t.Errorf("%s: %d %q; want 1001 \"Going away\"", id, rc.DisconnectStatusCode, *rc.DisconnectReason)
		}
	}
	rec.checkDisconnects(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if c, _, err := websocket.Dial(ctx, srv.WebSocketURL(), nil); err == nil {
		_ = c.CloseNow()
		t.Fatal("dial after Close succeeded")
	}
}

func TestProtocolErrors(t *testing.T) {
	srv, rec := startServer(t, nil)
	tests := []struct {
		name  string
		frame []byte // raw bytes the client sends
		code  int
	}{
		// Unmasked text frame "hi".
		{name: "unmasked", frame: []byte{0x81, 0x02, 'h', 'i'}, code: 1002},
		// Masked continuation frame with no message in progress.
		{name: "continuation", frame: []byte{0x80, 0x80, 0, 0, 0, 0}, code: 1002},
		// Masked text frame with RSV1 set (no extension was negotiated).
		{name: "rsv1", frame: []byte{0xc1, 0x80, 0, 0, 0, 0}, code: 1002},
		// Masked text frame holding invalid UTF-8.
		{name: "utf8", frame: []byte{0x81, 0x81, 0, 0, 0, 0, 0xff}, code: 1007},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, id := rawDial(t, srv, rec, "raw-"+tt.name)
			if _, err := conn.Write(tt.frame); err != nil {
				t.Fatal(err)
			}
			if code := readCloseCode(t, conn); code != tt.code {
				t.Errorf("close code %d; want %d", code, tt.code)
			}
			if rc := rec.disconnectEvent(t, id).RequestContext; rc.DisconnectStatusCode != int64(tt.code) {
				t.Errorf("disconnectStatusCode %d; want %d", rc.DisconnectStatusCode, tt.code)
			}
		})
	}
}

func TestOtherRequestsRejected(t *testing.T) {
	srv, rec := startServer(t, nil)
	base := "http://" + srv.Addr().String()
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{path: "/", status: 403, body: `{"message":"Forbidden"}`},
		{path: "/other", status: 403, body: `{"message":"Forbidden"}`},
		{path: "/test/", status: 403, body: `{"message":"Forbidden"}`},
		{path: "/test/@connections/", status: 403, body: `{"message":"Forbidden"}`},
		// The stage path without an upgrade.
		{path: "/test", status: 426, body: `{"message":"Upgrade Required"}`},
	} {
		resp, body := rawGet(t, base+tt.path)
		if resp.StatusCode != tt.status || body != tt.body {
			t.Errorf("GET %s: %d %s; want %d %s", tt.path, resp.StatusCode, body, tt.status, tt.body)
		}
	}
	// Malformed handshakes are rejected before $connect runs.
	for _, tt := range []struct {
		name   string
		header http.Header
		status int
	}{
		{name: "no key", header: http.Header{"Sec-Websocket-Version": {"13"}}, status: 400},
		{name: "short key", header: http.Header{"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"abc"}}, status: 400},
		{name: "old version", header: http.Header{"Sec-Websocket-Version": {"8"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}, status: 426},
	} {
		req, _ := http.NewRequest(http.MethodGet, base+"/test", nil)
		req.Header = tt.header
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d; want %d", tt.name, resp.StatusCode, tt.status)
		}
	}
	if n := rec.count(func(ev *events.APIGatewayWebsocketProxyRequest) bool { return ev.RequestContext.EventType == "CONNECT" }); n != 0 {
		t.Errorf("$connect ran %d times for malformed handshakes", n)
	}
}

func TestFallback(t *testing.T) {
	srv, _ := startServer(t, func(o *emulator.Options) {
		o.Fallback = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("page " + r.URL.Path))
		})
	})
	base := "http://" + srv.Addr().String()
	if resp, body := rawGet(t, base+"/index.html"); resp.StatusCode != 200 || body != "page /index.html" {
		t.Errorf("GET /index.html: %d %q", resp.StatusCode, body)
	}
	// The endpoints are still the emulator's.
	if resp, _ := rawGet(t, base+"/test/@connections/AAAAAAAAAAAAAAA="); resp.StatusCode != 403 {
		t.Errorf("unsigned @connections GET: %d; want 403", resp.StatusCode)
	}
}

func TestNew(t *testing.T) {
	invoke := newRecorder().invoke
	badSchema := testManifest()
	badSchema.Routes[len(badSchema.Routes)-1].Schema = json.RawMessage(`{"type":"nonsense"}`)
	badRSE := testManifest()
	badRSE.RouteSelectionExpression = "$request.header.x"
	tests := []struct {
		name string
		opts *emulator.Options
	}{
		{name: "nil options", opts: nil},
		{name: "no manifest", opts: &emulator.Options{Invoke: invoke}},
		{name: "no invoke", opts: &emulator.Options{Manifest: testManifest()}},
		{name: "invalid manifest", opts: &emulator.Options{Manifest: &manifest.Manifest{}, Invoke: invoke}},
		{name: "bad route selection expression", opts: &emulator.Options{Manifest: badRSE, Invoke: invoke}},
		{name: "bad request model", opts: &emulator.Options{Manifest: badSchema, Invoke: invoke}},
		{name: "bad stage", opts: &emulator.Options{Manifest: testManifest(), Invoke: invoke, Stage: "a/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := emulator.New(tt.opts); err == nil {
				t.Fatal("New succeeded; want an error")
			}
		})
	}

	opts := &emulator.Options{Manifest: testManifest(), Invoke: invoke}
	e, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if opts.Stage != "" || opts.APIID != "" || opts.IdleTimeout != 0 || opts.Logger != nil {
		t.Errorf("New modified its Options: %+v", opts)
	}
	if e.Stage() != "local" || len(e.APIID()) != 10 || strings.ToLower(e.APIID()) != e.APIID() {
		t.Errorf("defaults: stage %q apiId %q", e.Stage(), e.APIID())
	}
}
