package dashboard_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/local/dashboard"
	"github.com/mulletgo/mullet/local/otlpreceiver"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// The secrets the fixture plants; none may appear in anything the
// dashboard serves.
var secrets = []string{
	"resume-secret-d41d8cd9",                     // a resume secret in state
	"68617368",                                   // a session's secret hash, hex
	"hash\x00bytes",                              // the hash itself
	"sk-live-apikey-0123456789abcdef",            // an API key value
	"eyJhbGciOiJIUzI1NiJ9.authorizer.token",      // an authorizer token
	"f00dfeedsignature0123456789abcdef01234567",  // a SigV4 signature
	"AKIDEXAMPLE/20260101/us-east-1/execute-api", // a SigV4 credential scope
	"FwoGZXIvYXdzEJr-session-token",              // a session token
	"wJalrXUtnFEMI-secret-access-key",            // a secret access key
}

func fixture(t *testing.T) (*dashboard.Dashboard, *httptest.Server, *[]string) {
	t.Helper()
	ctx := context.Background()
	st := memstore.New(nil)
	exp := time.Now().Add(time.Hour)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.PutConnection(ctx, store.Connection{
		ID: "conn-a=", ConnectedAt: time.Now(), SourceIP: "127.0.0.1", Expires: exp, Session: "sess-1",
		Authorizer: map[string]string{"user": "ada", "token": "eyJhbGciOiJIUzI1NiJ9.authorizer.token", "apiKey": "sk-live-apikey-0123456789abcdef"},
		Identity:   store.Identity{AccessKey: "AKIDEXAMPLE", APIKeyID: "key-id-1", Caller: "AROA:ada"},
	}))
	_, err := st.SaveState(ctx, "conn-a=", []byte(`{"name":"ada","resumeSecret":"resume-secret-d41d8cd9","nested":{"url":"wss://x/y?X-Amz-Signature=f00dfeedsignature0123456789abcdef01234567&X-Amz-Credential=AKIDEXAMPLE/20260101/us-east-1/execute-api"}}`), 0)
	must(err)
	must(st.JoinGroup(ctx, "room", "conn-a="))
	_, err = st.Arrive(ctx, "pair-1", 2, store.Arrival{ConnectionID: "conn-a=", At: time.Now(), Payload: []byte(`{"side":"left","secret":"resume-secret-d41d8cd9"}`)}, exp)
	must(err)
	must(st.CreateSession(ctx, store.Session{ID: "sess-1", SecretHash: []byte("hash\x00bytes"), ConnectionID: "conn-a=", Expires: exp, Authorizer: map[string]string{"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.authorizer.token"}}))
	must(st.SessionJoin(ctx, "sess-1", "room", store.Membership{}))

	var pushed []string
	d := dashboard.New(&dashboard.Options{
		Store: st, WebSocketURL: "ws://127.0.0.1:1/local", Poll: 20 * time.Millisecond,
		Push: func(_ context.Context, id string, data []byte) error {
			if id == "gone" {
				return errors.New("GoneException: 410")
			}
			pushed = append(pushed, id+" "+string(data))
			return nil
		},
	})
	d.AddSpans(ctx, []otlpreceiver.Span{
		{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Name: "mullet.invocation send", Start: time.Now(), End: time.Now().Add(time.Millisecond),
			Attributes: map[string]string{"mullet.route": "send", "mullet.request_id": "req-1", "http.request.header.authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/execute-api, SignedHeaders=host, Signature=f00dfeedsignature0123456789abcdef01234567"}},
		{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203332", ParentSpanID: "b7ad6b7169203331", Name: "mullet.push", Start: time.Now(), End: time.Now(),
			Attributes: map[string]string{"url.full": "http://127.0.0.1/local/@connections/x?X-Amz-Security-Token=FwoGZXIvYXdzEJr-session-token", "aws.secret_access_key": "wJalrXUtnFEMI-secret-access-key", "note": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.authorizer.token"}},
	})
	invoke := d.Wrap(func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		switch ev.RequestContext.RouteKey {
		case "boom":
			return events.APIGatewayProxyResponse{}, errors.New("lambdaruntime: instance 1: invocation failed: PanicError: panic: presigned https://x?X-Amz-Signature=f00dfeedsignature0123456789abcdef01234567")
		}
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	})
	invoke(ctx, &events.APIGatewayWebsocketProxyRequest{RequestContext: events.APIGatewayWebsocketProxyRequestContext{RouteKey: "send", ConnectionID: "conn-a=", RequestID: "req-1"}})
	invoke(ctx, &events.APIGatewayWebsocketProxyRequest{RequestContext: events.APIGatewayWebsocketProxyRequestContext{RouteKey: "boom", ConnectionID: "conn-a=", RequestID: "req-2"}})
	d.Refused(time.Now(), "send", "conn-a=", "req-3", 400, "Invalid request body: /text: missing properties: \"text\"")

	mux := http.NewServeMux()
	mux.Handle(dashboard.DefaultPath, d)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return d, srv, &pushed
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// readEvents reads the first n server-sent events of the page.
func readEvents(t *testing.T, url string, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for seen := 0; seen < n && sc.Scan(); {
		line := sc.Text()
		sb.WriteString(line + "\n")
		if strings.HasPrefix(line, "event: ") {
			seen++
		}
	}
	sc.Scan() // the last event's data
	sb.WriteString(sc.Text())
	return sb.String()
}

func TestNoSecretIsShown(t *testing.T) {
	_, srv, _ := fixture(t)
	base := srv.URL + dashboard.DefaultPath
	var all strings.Builder
	for _, p := range []string{"", "app.js", "api/state", "api/invocations", "api/traces", "api/trace?id=0af7651916cd43dd8448eb211c80319c"} {
		status, body := get(t, base+p)
		if status != 200 {
			t.Fatalf("GET %s: %d %s", p, status, body)
		}
		all.WriteString(body)
	}
	all.WriteString(readEvents(t, base+"events", 4))
	out := all.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the dashboard shows the secret %q", s)
		}
	}
	// What must be there still is.
	for _, want := range []string{
		`"id":"conn-a="`, `"user":"ada"`, `"apiKeyId":"key-id-1"`, `"accessKey":"AKID…"`, `"name":"ada"`, `"resumeSecret":"[redacted]"`,
		`X-Amz-Signature=[redacted]`, `"status":"waiting"`, `"key":"pair-1"`, `"name":"room"`, `"id":"sess-1"`, `"connected":true`,
		`"outcome":"panic"`, `"outcome":"refused"`, `missing properties`, `"name":"mullet.invocation send"`, `"requestIds":["req-1"]`,
		`"http.request.header.authorization":"[redacted]"`, `"aws.secret_access_key":"[redacted]"`, `Bearer [redacted]`,
		`"webSocketUrl":"ws://127.0.0.1:1/local"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

func TestLoopbackOnlyAndNoCrossOriginWrites(t *testing.T) {
	d, srv, pushed := fixture(t)
	base := srv.URL + dashboard.DefaultPath

	// A request through another host name (DNS rebinding) is refused, as
	// is a peer that is not on loopback.
	req := httptest.NewRequest("GET", "http://evil.example"+dashboard.DefaultPath+"api/state", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	w := httptest.NewRecorder()
	d.ServeHTTP(w, req)
	if w.Code != 403 {
		t.Errorf("Host evil.example: %d", w.Code)
	}
	req = httptest.NewRequest("GET", "http://127.0.0.1"+dashboard.DefaultPath+"api/state", nil)
	req.RemoteAddr = "192.0.2.7:5555"
	w = httptest.NewRecorder()
	d.ServeHTTP(w, req)
	if w.Code != 403 {
		t.Errorf("peer 192.0.2.7: %d", w.Code)
	}

	post := func(typ, origin, body string) int {
		req, _ := http.NewRequest("POST", base+"api/push", strings.NewReader(body))
		req.Header.Set("Content-Type", typ)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post("text/plain", "", `{"connectionId":"conn-a=","data":"x"}`); s != 415 {
		t.Errorf("text/plain push: %d", s)
	}
	if s := post("application/json", "http://evil.example", `{"connectionId":"conn-a=","data":"x"}`); s != 403 {
		t.Errorf("cross-origin push: %d", s)
	}
	if s := post("application/json", "", `{"data":"x"}`); s != 400 {
		t.Errorf("push without connection: %d", s)
	}
	if s := post("application/json", "", `{"connectionId":"gone","data":"x"}`); s != 502 {
		t.Errorf("failed push: %d", s)
	}
	if s := post("application/json", srv.URL, `{"connectionId":"conn-a=","data":"hello"}`); s != 200 {
		t.Errorf("push: %d", s)
	}
	if len(*pushed) != 1 || (*pushed)[0] != "conn-a= hello" {
		t.Errorf("pushed %q", *pushed)
	}
}
