package dashboard

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mulletgo/mullet/local/otlpreceiver"
)

// traceStore keeps the newest traces, each a set of redacted spans.
type traceStore struct {
	max int

	mu     sync.Mutex
	traces map[string]*trace
	order  []string // trace IDs, oldest first
}

type trace struct {
	spans []otlpreceiver.Span
}

// traceSummary is one trace in the page's list.
type traceSummary struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"` // the root span's, or the earliest span's
	Route        string    `json:"route,omitempty"`
	ConnectionID string    `json:"connectionId,omitempty"`
	RequestIDs   []string  `json:"requestIds,omitempty"`
	Start        time.Time `json:"start"`
	DurationMs   float64   `json:"durationMs"`
	Spans        int       `json:"spans"`
	Errors       int       `json:"errors"`
}

func newTraceStore(max int) *traceStore {
	return &traceStore{max: max, traces: make(map[string]*trace)}
}

// redactSpan returns s without secrets.
func redactSpan(s otlpreceiver.Span) otlpreceiver.Span {
	s.Name = scrub(s.Name)
	s.StatusMessage = scrub(s.StatusMessage)
	s.Attributes = redactMap(s.Attributes)
	s.Events = slices.Clone(s.Events)
	for i := range s.Events {
		s.Events[i].Name = scrub(s.Events[i].Name)
		s.Events[i].Attributes = redactMap(s.Events[i].Attributes)
	}
	s.Links = slices.Clone(s.Links)
	for i := range s.Links {
		s.Links[i].Attributes = redactMap(s.Links[i].Attributes)
	}
	return s
}

// add stores spans and returns the summaries of the traces they changed.
func (ts *traceStore) add(spans []otlpreceiver.Span) []traceSummary {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	changed := map[string]bool{}
	for _, s := range spans {
		if s.TraceID == "" {
			continue
		}
		t := ts.traces[s.TraceID]
		if t == nil {
			t = &trace{}
			ts.traces[s.TraceID] = t
			ts.order = append(ts.order, s.TraceID)
		}
		t.spans = append(t.spans, redactSpan(s))
		changed[s.TraceID] = true
	}
	for len(ts.order) > ts.max {
		delete(ts.traces, ts.order[0])
		delete(changed, ts.order[0])
		ts.order = ts.order[1:]
	}
	out := make([]traceSummary, 0, len(changed))
	for id := range changed {
		out = append(out, summarize(id, ts.traces[id].spans))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// summaries lists every trace kept, oldest first.
func (ts *traceStore) summaries() []traceSummary {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]traceSummary, 0, len(ts.order))
	for _, id := range ts.order {
		out = append(out, summarize(id, ts.traces[id].spans))
	}
	return out
}

// timedSpan is a span with its place on the trace's timeline, in
// microseconds from the trace's first start (the page's clock keeps only
// milliseconds).
type timedSpan struct {
	otlpreceiver.Span
	OffsetUs   int64 `json:"offsetUs"`
	DurationUs int64 `json:"durationUs"`
}

// spans returns a trace's spans sorted by start time, or nil.
func (ts *traceStore) spans(id string) []timedSpan {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := ts.traces[strings.ToLower(id)]
	if t == nil {
		return nil
	}
	out := make([]timedSpan, len(t.spans))
	for i, s := range t.spans {
		out[i] = timedSpan{Span: s, DurationUs: max(s.End.Sub(s.Start).Microseconds(), 0)}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	for i := range out {
		out[i].OffsetUs = out[i].Start.Sub(out[0].Start).Microseconds()
	}
	return out
}

func summarize(id string, spans []otlpreceiver.Span) traceSummary {
	sum := traceSummary{ID: id, Spans: len(spans)}
	var end time.Time
	var root *otlpreceiver.Span
	have := map[string]bool{}
	for i := range spans {
		have[spans[i].SpanID] = true
	}
	for i := range spans {
		s := &spans[i]
		if sum.Start.IsZero() || s.Start.Before(sum.Start) {
			sum.Start = s.Start
		}
		if s.End.After(end) {
			end = s.End
		}
		if s.StatusCode == 2 {
			sum.Errors++
		}
		// The root here is the first span whose parent is not in the
		// trace (the frame's client span may live elsewhere).
		if !have[s.ParentSpanID] && (root == nil || s.Start.Before(root.Start)) {
			root = s
		}
		if r := s.Attributes["mullet.request_id"]; r != "" && !slices.Contains(sum.RequestIDs, r) {
			sum.RequestIDs = append(sum.RequestIDs, r)
		}
		if sum.Route == "" {
			sum.Route = s.Attributes["mullet.route"]
		}
		if sum.ConnectionID == "" {
			sum.ConnectionID = s.Attributes["mullet.connection_id"]
		}
	}
	if root != nil {
		sum.Name = root.Name
	}
	if !end.IsZero() {
		sum.DurationMs = float64(end.Sub(sum.Start).Microseconds()) / 1000
	}
	return sum
}
