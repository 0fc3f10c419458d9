package dashboard

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/local/otlpreceiver"
	"github.com/mulletgo/mullet/store"
)

// DefaultPath is where mullet dev serves the dashboard.
const DefaultPath = "/_mullet/"

// Options configures a Dashboard. nil means defaults.
type Options struct {
	// Path is the path the dashboard is served under, with a slash at
	// both ends. Default DefaultPath.
	Path string
	// Store is read for connections, groups, barriers and sessions. nil:
	// the page says the store cannot be inspected.
	Store store.Inspector
	// WebSocketURL is the API's websocket URL (ws://HOST/STAGE), which the
	// page's send form connects to.
	WebSocketURL string
	// Push, if set, sends data to a connection through @connections
	// (PostToConnection, signed by the caller), for the page's push form.
	Push func(ctx context.Context, connectionID string, data []byte) error
	// Poll is how often the store is read while a page is open. Default
	// 500ms.
	Poll time.Duration
	// MaxInvocations and MaxTraces bound what is kept. Defaults 500 and
	// 200.
	MaxInvocations, MaxTraces int
	// Logger receives the dashboard's own errors. nil: discarded.
	Logger *slog.Logger
}

// Dashboard is the live dashboard: an http.Handler, fed invocations,
// refusals and spans. Create it with New; it is safe for concurrent use
// and starts no goroutine of its own.
type Dashboard struct {
	o      Options
	traces *traceStore

	mu          sync.Mutex
	invocations []Invocation // newest last, at most o.MaxInvocations
	subs        map[chan event]struct{}
}

// Invocation is one line of the dashboard's invocation log.
type Invocation struct {
	Time         time.Time `json:"time"`
	Route        string    `json:"route"`
	ConnectionID string    `json:"connectionId"`
	RequestID    string    `json:"requestId"`
	// Status is the integration's status code (0 for an invocation that
	// failed without one), or, for a refused frame, the one API Gateway
	// logs (400 or 403).
	Status     int     `json:"status"`
	DurationMs float64 `json:"durationMs,omitempty"`
	// Outcome is "ok", "error" (a 4xx/5xx response or a failed
	// invocation), "panic" (a handler's panic) or "refused" (the API
	// answered with an error frame without invoking the app).
	Outcome string `json:"outcome"`
	// Error is why the invocation failed or the frame was refused.
	Error string `json:"error,omitempty"`
}

// event is one server-sent event.
type event struct {
	name string
	data []byte
}

// New returns a Dashboard.
func New(opts *Options) *Dashboard {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if !strings.HasSuffix(o.Path, "/") {
		o.Path += "/"
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.MaxInvocations <= 0 {
		o.MaxInvocations = 500
	}
	if o.MaxTraces <= 0 {
		o.MaxTraces = 200
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dashboard{o: o, traces: newTraceStore(o.MaxTraces), subs: make(map[chan event]struct{})}
}

// Path is the path the dashboard is served under.
func (d *Dashboard) Path() string { return d.o.Path }

// InvokeFunc is the emulator's integration: emulator.InvokeFunc.
type InvokeFunc = func(context.Context, *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// Wrap returns next, adding each invocation to the log when it returns
// (or panics, which it passes on).
func (d *Dashboard) Wrap(next InvokeFunc) InvokeFunc {
	return func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (resp events.APIGatewayProxyResponse, err error) {
		start := time.Now()
		rc := &ev.RequestContext
		inv := Invocation{Time: start, Route: rc.RouteKey, ConnectionID: rc.ConnectionID, RequestID: rc.RequestID}
		defer func() {
			inv.DurationMs = float64(time.Since(start).Microseconds()) / 1000
			if p := recover(); p != nil {
				inv.Outcome, inv.Error = "panic", fmt.Sprint(p)
				d.record(inv)
				panic(p)
			}
			inv.Status = resp.StatusCode
			switch {
			case err != nil:
				inv.Outcome, inv.Error = "error", err.Error()
				if strings.Contains(inv.Error, "panic") {
					inv.Outcome = "panic"
				}
			case resp.StatusCode >= 400:
				inv.Outcome, inv.Error = "error", firstLine(resp.Body)
			default:
				inv.Outcome = "ok"
			}
			d.record(inv)
		}()
		return next(ctx, ev)
	}
}

// Refused adds a frame the API refused without invoking the app to the
// log (the fields of an emulator.Rejection): route "" when none matched,
// status 400 or 403, reason why.
func (d *Dashboard) Refused(at time.Time, route, connectionID, requestID string, status int, reason string) {
	d.record(Invocation{Time: at, Route: route, ConnectionID: connectionID, RequestID: requestID, Status: status, Outcome: "refused", Error: reason})
}

// AddSpans adds spans to the traces, as an otlpreceiver consume function
// (or an SDK exporter of an in-process app) hands them on.
func (d *Dashboard) AddSpans(_ context.Context, spans []otlpreceiver.Span) {
	changed := d.traces.add(spans)
	if len(changed) == 0 {
		return
	}
	data, _ := json.Marshal(changed)
	d.publish(event{"traces", data})
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func (d *Dashboard) record(inv Invocation) {
	inv.Error = scrub(inv.Error)
	data, _ := json.Marshal(inv)
	d.mu.Lock()
	d.invocations = append(d.invocations, inv)
	if n := len(d.invocations) - d.o.MaxInvocations; n > 0 {
		d.invocations = slices.Delete(d.invocations, 0, n)
	}
	d.mu.Unlock()
	d.publish(event{"invocation", data})
}

// publish sends e to every open page; a page too slow to keep up misses
// it (its next state event still arrives).
func (d *Dashboard) publish(e event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for c := range d.subs {
		select {
		case c <- e:
		default:
		}
	}
}

//go:embed web
var webFS embed.FS

// ServeHTTP serves the page, its events and its API under Path, to
// loopback peers that name a loopback host only.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !loopbackPeer(r) {
		http.Error(w, "the mullet dev dashboard answers loopback clients only", http.StatusForbidden)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, d.o.Path)
	if !ok {
		if r.URL.Path+"/" == d.o.Path {
			http.Redirect(w, r, d.o.Path, http.StatusMovedPermanently)
			return
		}
		http.NotFound(w, r)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	switch rest {
	case "events":
		d.serveEvents(w, r)
	case "api/state":
		d.serveJSON(w, r, d.state(r.Context()))
	case "api/invocations":
		d.mu.Lock()
		invs := slices.Clone(d.invocations)
		d.mu.Unlock()
		d.serveJSON(w, r, invs)
	case "api/traces":
		d.serveJSON(w, r, d.traces.summaries())
	case "api/trace":
		spans := d.traces.spans(r.URL.Query().Get("id"))
		if spans == nil {
			http.Error(w, "no such trace (yet): spans arrive when the instance exports them", http.StatusNotFound)
			return
		}
		d.serveJSON(w, r, spans)
	case "api/push":
		d.servePush(w, r)
	case "", "index.html", "app.js", "style.css":
		if rest == "" {
			rest = "index.html"
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; img-src 'self' data:")
		sub, _ := fs.Sub(webFS, "web")
		http.ServeFileFS(w, r, sub, rest)
	default:
		http.NotFound(w, r)
	}
}

// loopbackPeer reports whether r comes from a loopback address and names
// a loopback host (so that a page of another site, reached through a DNS
// name rebound to 127.0.0.1, is refused).
func loopbackPeer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return false
	}
	h := r.Host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (d *Dashboard) serveJSON(w http.ResponseWriter, r *http.Request, v any) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// state is the page's view of the store now.
func (d *Dashboard) state(ctx context.Context) stateView {
	if d.o.Store == nil {
		return stateView{At: time.Now(), Error: "this store cannot be inspected"}
	}
	snap, err := d.o.Store.Inspect(ctx)
	if err != nil {
		return stateView{At: time.Now(), Inspectable: true, Error: scrub(err.Error())}
	}
	return newStateView(snap)
}

// config is what the page needs to know once.
type config struct {
	WebSocketURL string `json:"webSocketUrl"`
	CanPush      bool   `json:"canPush"`
}

func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	c := make(chan event, 256)
	d.mu.Lock()
	d.subs[c] = struct{}{}
	invs := slices.Clone(d.invocations)
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.subs, c)
		d.mu.Unlock()
	}()
	send := func(name string, data []byte) bool {
		_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
		flusher.Flush()
		return err == nil
	}
	cfg, _ := json.Marshal(config{WebSocketURL: d.o.WebSocketURL, CanPush: d.o.Push != nil})
	invData, _ := json.Marshal(invs)
	trData, _ := json.Marshal(d.traces.summaries())
	if !send("config", cfg) || !send("invocations", invData) || !send("traces", trData) {
		return
	}
	var last []byte
	sendState := func() bool {
		data, _ := json.Marshal(d.state(r.Context()))
		// At changes every time; compare the rest.
		key := data[bytes.IndexByte(data, ','):]
		if bytes.Equal(key, last) {
			return true
		}
		last = slices.Clone(key)
		return send("state", data)
	}
	if !sendState() {
		return
	}
	tick := time.NewTicker(d.o.Poll)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-c:
			if !send(e.name, e.data) {
				return
			}
		case <-tick.C:
			if !sendState() {
				return
			}
		}
	}
}

// pushRequest is the push form's body.
type pushRequest struct {
	ConnectionID string `json:"connectionId"`
	Data         string `json:"data"`
}

func (d *Dashboard) servePush(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	// A page of another origin cannot send application/json without a
	// preflight, which is never answered; Origin, when sent, must be ours.
	if mt := r.Header.Get("Content-Type"); !strings.HasPrefix(mt, "application/json") {
		http.Error(w, "Content-Type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	if d.o.Push == nil {
		http.Error(w, "pushing is not configured", http.StatusNotImplemented)
		return
	}
	var req pushRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 256<<10)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.ConnectionID == "" {
		http.Error(w, "connectionId is required", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := d.o.Push(ctx, req.ConnectionID, []byte(req.Data)); err != nil {
		d.o.Logger.Info("dashboard push failed", "connection", req.ConnectionID, "err", err)
		status := http.StatusBadGateway
		var se interface{ HTTPStatusCode() int }
		if errors.As(err, &se) {
			status = se.HTTPStatusCode()
		}
		http.Error(w, scrub(err.Error()), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"sent":%d}`+"\n", len(req.Data))
}

func sortStrings(s []string) { slices.Sort(s) }
