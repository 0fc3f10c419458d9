package mullettest_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	chat "github.com/mulletgo/mullet/examples/chat/app"
	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/internal/syncbuf"
	"github.com/mulletgo/mullet/local/lambdaruntime"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
)

// readUntil reads frames until one contains want.
func readFrameWith(t *testing.T, c *mullettest.Client, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f, err := c.ReadTimeout(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for a frame with %s: %v", want, err)
		}
		if strings.Contains(f, want) {
			return f
		}
	}
	t.Fatalf("no frame with %s", want)
	return ""
}

// TestChatBroadcastTrace drives a chat broadcast over real websockets
// through the emulator, with the app traced into the SDK's in-memory
// exporter, and checks the span tree: the client's span (carried by the
// frame's $traceparent) is the parent of the invocation, whose broadcast
// queries the group's members in the store and pushes once to each member.
func TestChatBroadcastTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(t.Context()) })
	srv := mullettest.NewServer(t, chat.New(), &mullettest.Options{TracerProvider: tp})
	var clients []*mullettest.Client
	for range 3 {
		c := srv.Dial(t, nil)
		c.Send(t, `{"action":"join","room":"lobby"}`)
		readFrameWith(t, c, `"joined"`)
		clients = append(clients, c)
	}
	const (
		clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		clientSpan  = "00f067aa0ba902b7"
	)
	clients[0].Send(t, `{"action":"send","room":"lobby","text":"traced","$traceparent":"00-`+clientTrace+`-`+clientSpan+`-01"}`)
	for _, c := range clients {
		readFrameWith(t, c, `"traced"`)
	}

	var invocation sdktrace.ReadOnlySpan
	var spans []sdktrace.ReadOnlySpan
	deadline := time.Now().Add(5 * time.Second)
	for invocation == nil && time.Now().Before(deadline) {
		spans = exp.GetSpans().Snapshots()
		for _, s := range spans {
			if s.Name() == framework.SpanInvocation+" send" && s.SpanContext().TraceID().String() == clientTrace {
				invocation = s
			}
		}
		if invocation == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if invocation == nil {
		t.Fatalf("no span %q in the client's trace among %d spans", framework.SpanInvocation+" send", len(spans))
	}
	if p := invocation.Parent(); !p.IsRemote() || p.SpanID().String() != clientSpan {
		t.Errorf("the invocation's parent is %v, want the client's span %s", p.SpanID(), clientSpan)
	}
	if invocation.SpanKind() != trace.SpanKindServer {
		t.Errorf("the invocation's kind is %v", invocation.SpanKind())
	}
	attrs := map[string]string{}
	for _, a := range invocation.Attributes() {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	if attrs["mullet.route"] != "send" || attrs["mullet.status"] != "200" || attrs["mullet.connection_id"] == "" || attrs["mullet.request_id"] == "" {
		t.Errorf("the invocation's attributes: %v", attrs)
	}
	children := func(parent sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
		var out []sdktrace.ReadOnlySpan
		for _, s := range spans {
			if s.Parent().SpanID() == parent.SpanContext().SpanID() && s.SpanContext().TraceID() == parent.SpanContext().TraceID() {
				out = append(out, s)
			}
		}
		return out
	}
	var broadcast sdktrace.ReadOnlySpan
	var tree []string
	for _, s := range children(invocation) {
		tree = append(tree, s.Name())
		if s.Name() == framework.SpanBroadcast+" lobby" {
			broadcast = s
		}
	}
	if broadcast == nil {
		t.Fatalf("no broadcast span under the invocation; its children: %v", tree)
	}
	var queried bool
	pushedTo := map[string]bool{}
	for _, s := range children(broadcast) {
		switch s.Name() {
		case framework.SpanStore + " GroupMembers":
			queried = true
		case framework.SpanPush:
			for _, a := range s.Attributes() {
				switch a.Key {
				case "mullet.connection_id":
					pushedTo[a.Value.AsString()] = true
				case "http.response.status_code":
					if a.Value.AsInt64() != 200 {
						t.Errorf("a push answered %d", a.Value.AsInt64())
					}
				}
			}
			if s.SpanKind() != trace.SpanKindClient {
				t.Errorf("a push's kind is %v", s.SpanKind())
			}
		}
	}
	if !queried {
		t.Errorf("no store query of the group's members under the broadcast")
	}
	if len(pushedTo) != len(clients) {
		t.Errorf("pushes to %d distinct members, want one to each of %d", len(pushedTo), len(clients))
	}
	n := 0
	for _, s := range children(broadcast) {
		if s.Name() == framework.SpanPush {
			n++
		}
	}
	if n != len(clients) {
		t.Errorf("%d push spans under the broadcast, want %d", n, len(clients))
	}
}

// emfLines returns the EMF lines in the instances' output, by route.
func emfLines(t *testing.T, out string) map[string][]map[string]any {
	t.Helper()
	byRoute := map[string][]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, `{"_aws":`)
		if i < 0 {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(line[i:]), &doc); err != nil {
			t.Fatalf("an EMF line is not JSON: %v\n%s", err, line)
		}
		byRoute[doc["Route"].(string)] = append(byRoute[doc["Route"].(string)], doc)
	}
	return byRoute
}

// TestChatEMFUnderLambda runs the chat example's real Lambda build as
// Lambda instances behind the emulator with MULLET_METRICS=emf, makes a
// known set of invocations over websockets, and checks the EMF lines the
// instances write to stdout: each validates against the format's schema,
// and their counts and values match the invocations made.
func TestChatEMFUnderLambda(t *testing.T) {
	db := dynalitetest.Start(t)
	out := &syncbuf.Buffer{}
	srv := mullettest.NewServer(t, nil, &mullettest.Options{Lambda: &mullettest.Lambda{
		MainDir: "../examples/chat", Table: db.NewTable(t), DynamoDBEndpoint: db.Endpoint, Output: out,
		Pool: &lambdaruntime.Options{Env: []string{runtimeenv.Metrics + "=" + runtimeenv.MetricsEMF}},
	}})
	a := srv.Dial(t, nil)
	a.Send(t, `{"action":"join","room":"lobby"}`)
	readFrameWith(t, a, `"joined"`) // 1 push: a
	b := srv.Dial(t, nil)
	b.Send(t, `{"action":"join","room":"lobby"}`)
	readFrameWith(t, b, `"joined"`) // 2 pushes: a and b
	readFrameWith(t, a, `"joined"`)
	a.Send(t, `{"action":"send","room":"lobby","text":"hi"}`) // 2 pushes
	readFrameWith(t, a, `"hi"`)
	readFrameWith(t, b, `"hi"`)
	a.Send(t, `{"action":"send","room":"elsewhere","text":"hi"}`) // refused: 403, no push but the error frame
	readFrameWith(t, a, `join room`)
	a.Conn.CloseNow()
	b.Conn.CloseNow()

	want := map[string]struct{ n, pushes int }{
		"$connect": {2, 0}, "join": {2, 3}, "send": {2, 3}, "$disconnect": {2, 0},
	}
	var lines map[string][]map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines = emfLines(t, out.String())
		if len(lines["$disconnect"]) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	sch, err := jsonschema.Compile("../framework/emf/testdata/emf.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for route, w := range want {
		docs := lines[route]
		if len(docs) != w.n {
			t.Errorf("%d EMF lines for %s, want %d", len(docs), route, w.n)
		}
		pushes := 0
		for _, doc := range docs {
			if err := sch.Validate(doc); err != nil {
				t.Errorf("an EMF line of %s fails the schema: %v", route, err)
			}
			if doc["App"] != "chat" || doc["Invocations"] != 1.0 || doc["Errors"] != 0.0 {
				t.Errorf("an EMF line of %s: %v", route, doc)
			}
			if d, ok := doc["Duration"].(float64); !ok || d <= 0 {
				t.Errorf("an EMF line of %s has Duration %v", route, doc["Duration"])
			}
			pushes += int(doc["Pushes"].(float64))
		}
		if pushes != w.pushes {
			t.Errorf("%s pushed %d times in its EMF lines, want %d", route, pushes, w.pushes)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("EMF lines for routes %v, want only %v", keys(lines), want)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// otlpReceiver keeps the spans of the OTLP/HTTP JSON requests it gets.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []map[string]any
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var doc struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []map[string]any `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/json" || json.NewDecoder(req.Body).Decode(&doc) != nil {
		http.Error(w, "not OTLP/HTTP JSON", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range doc.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (r *otlpReceiver) snapshot() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.spans...)
}

// TestChatTraceUnderLambda: the chat example's real Lambda build, with
// OTEL_EXPORTER_OTLP_ENDPOINT set as mullet dev sets it, exports the
// spans of a frame that carries $traceparent as OTLP/HTTP JSON: the
// invocation in the client's trace, child of the client's span, and one
// push per member under the broadcast.
func TestChatTraceUnderLambda(t *testing.T) {
	db := dynalitetest.Start(t)
	rcv := &otlpReceiver{}
	otlp := httptest.NewServer(rcv)
	t.Cleanup(otlp.Close)
	srv := mullettest.NewServer(t, nil, &mullettest.Options{Lambda: &mullettest.Lambda{
		MainDir: "../examples/chat", Table: db.NewTable(t), DynamoDBEndpoint: db.Endpoint,
		Pool: &lambdaruntime.Options{Env: []string{runtimeenv.OTelEndpoint + "=" + otlp.URL}},
	}})
	a, b := srv.Dial(t, nil), srv.Dial(t, nil)
	for _, c := range []*mullettest.Client{a, b} {
		c.Send(t, `{"action":"join","room":"lobby"}`)
		readFrameWith(t, c, `"joined"`)
	}
	const clientTrace, clientSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	a.Send(t, `{"action":"send","room":"lobby","text":"hi","$traceparent":"00-`+clientTrace+`-`+clientSpan+`-01"}`)
	readFrameWith(t, a, `"hi"`)
	readFrameWith(t, b, `"hi"`)
	var inv map[string]any
	var spans []map[string]any
	for deadline := time.Now().Add(10 * time.Second); inv == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		spans = rcv.snapshot()
		for _, s := range spans {
			if s["name"] == framework.SpanInvocation+" send" && s["traceId"] == clientTrace {
				inv = s
			}
		}
	}
	if inv == nil {
		t.Fatalf("no invocation span of the client's trace among %d exported", len(spans))
	}
	if inv["parentSpanId"] != clientSpan || inv["kind"] != 2.0 {
		t.Errorf("the invocation's parent %v, kind %v; want %s, 2 (server)", inv["parentSpanId"], inv["kind"], clientSpan)
	}
	var broadcast string
	for _, s := range spans {
		if s["name"] == framework.SpanBroadcast+" lobby" && s["parentSpanId"] == inv["spanId"] {
			broadcast = s["spanId"].(string)
		}
	}
	pushes := 0
	for _, s := range spans {
		if s["name"] == framework.SpanPush && s["parentSpanId"] == broadcast && broadcast != "" {
			pushes++
		}
	}
	if pushes != 2 {
		t.Errorf("%d pushes under the broadcast (%q), want one per member, 2", pushes, broadcast)
	}
}
