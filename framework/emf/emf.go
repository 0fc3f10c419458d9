// Package emf writes CloudWatch Embedded Metric Format lines: one JSON
// object per invocation on the function's stdout, from which CloudWatch
// Logs extracts metrics in Lambda, with no API call and no dependency
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
//
// Each line carries the metrics of one invocation under the dimensions App
// and Route (and App alone, for totals across routes):
//
//	{"_aws":{"Timestamp":1733300000000,"CloudWatchMetrics":[{"Namespace":"mullet",
//	  "Dimensions":[["App","Route"],["App"]],"Metrics":[{"Name":"Invocations","Unit":"Count"},...]}]},
//	 "App":"chat","Route":"send","Invocations":1,"Errors":0,"Duration":0.412,"Pushes":3,...}
package emf

import (
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of the metrics unless Options
// names another.
const Namespace = "mullet"

// Invocation is what one invocation did.
type Invocation struct {
	// Route is the route key: $connect, $disconnect, $default or a custom
	// key.
	Route string
	// Duration is the time the framework spent on the invocation.
	Duration time.Duration
	// Error reports a failed invocation (an invocation error in Lambda).
	Error bool
	// Pushes is the number of @connections posts (replies through
	// @connections, sends, broadcast members, barrier releases).
	Pushes int
	// Gone is the number of connections found gone (410).
	Gone int
	// Throttles is the number of throttled calls (429 from @connections,
	// throttling from the store), retries included.
	Throttles int
	// Releases and Timeouts count barrier releases and barrier timeouts.
	Releases, Timeouts int
	// Replays is the number of messages replayed to resuming clients.
	Replays int
}

// metric names and units, in the order they are written.
var metrics = []struct{ name, unit string }{
	{"Invocations", "Count"},
	{"Errors", "Count"},
	{"Duration", "Milliseconds"},
	{"Pushes", "Count"},
	{"Gone", "Count"},
	{"Throttles", "Count"},
	{"BarrierReleases", "Count"},
	{"BarrierTimeouts", "Count"},
	{"Replays", "Count"},
}

// Options configures a Writer. nil means defaults.
type Options struct {
	// Namespace is the CloudWatch namespace. Default Namespace.
	Namespace string
	// Now is the clock of the lines' timestamps. Default time.Now.
	Now func() time.Time
}

// Writer writes one EMF line per Record to its writer. Lines are built in
// one reused buffer under a mutex, so they never interleave. It is safe for
// concurrent use.
type Writer struct {
	w      io.Writer
	app    string
	now    func() time.Time
	prefix []byte // `{"_aws":{"Timestamp":`
	middle []byte // `,"CloudWatchMetrics":[...]},"App":"..."`

	mu  sync.Mutex
	buf []byte
}

// NewWriter returns a Writer of app's metrics to w (in Lambda, os.Stdout).
func NewWriter(w io.Writer, app string, opts *Options) *Writer {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Namespace == "" {
		o.Namespace = Namespace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := []byte(`,"CloudWatchMetrics":[{"Namespace":`)
	m = appendJSON(m, o.Namespace)
	m = append(m, `,"Dimensions":[["App","Route"],["App"]],"Metrics":[`...)
	for i, d := range metrics {
		if i > 0 {
			m = append(m, ',')
		}
		m = append(m, `{"Name":"`...)
		m = append(m, d.name...)
		m = append(m, `","Unit":"`...)
		m = append(m, d.unit...)
		m = append(m, `"}`...)
	}
	m = append(m, `]}]},"App":`...)
	m = appendJSON(m, app)
	return &Writer{w: w, app: app, now: o.Now, prefix: []byte(`{"_aws":{"Timestamp":`), middle: m, buf: make([]byte, 0, 512)}
}

// Record writes inv's line. A write error is returned and changes nothing
// else: metrics never fail an invocation.
func (w *Writer) Record(inv Invocation) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := append(w.buf[:0], w.prefix...)
	b = strconv.AppendInt(b, w.now().UnixMilli(), 10)
	b = append(b, w.middle...)
	b = append(b, `,"Route":`...)
	b = appendJSON(b, inv.Route)
	errors := 0
	if inv.Error {
		errors = 1
	}
	values := [...]int{1, errors, 0, inv.Pushes, inv.Gone, inv.Throttles, inv.Releases, inv.Timeouts, inv.Replays}
	for i, d := range metrics {
		b = append(b, ',', '"')
		b = append(b, d.name...)
		b = append(b, '"', ':')
		if d.name == "Duration" {
			b = strconv.AppendFloat(b, float64(inv.Duration.Microseconds())/1000, 'f', 3, 64)
			continue
		}
		b = strconv.AppendInt(b, int64(values[i]), 10)
	}
	b = append(b, '}', '\n')
	w.buf = b
	_, err := w.w.Write(b)
	return err
}

// appendJSON appends s encoded as a JSON string.
func appendJSON(b []byte, s string) []byte {
	enc, _ := json.Marshal(s) // a string always encodes
	return append(b, enc...)
}
