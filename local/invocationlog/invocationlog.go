// Package invocationlog writes the local per-invocation log: one line per
// invocation of an app (time, route, connection ID, status, latency, and
// the error of a failed invocation, a handler's panic with the app's
// stack frames included), and one per frame the API refused without
// invoking the app (with why: every schema violation, or the routes there
// are), as aligned text, colored text or JSON lines. Lines are built in one reused buffer under a mutex, so logging
// allocates nothing per invocation and lines never interleave.
package invocationlog

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/manifest"
)

// Format is the format of the log's lines.
type Format string

// The formats.
const (
	// Text is aligned columns.
	Text Format = "text"
	// Color is Text with ANSI colors.
	Color Format = "color"
	// JSON is one object a line: time, route, connectionId, requestId,
	// status, durationMs, and error if the invocation failed.
	JSON Format = "json"
	// Off logs nothing.
	Off Format = "off"
)

// FormatFor picks the format that MULLET_LOG (env) names, or, when it is
// empty or "auto", the one that suits out: JSON lines when out is not a
// terminal, Text when noColor (NO_COLOR is set), Color otherwise. An
// unknown name is an error that says which names there are.
func FormatFor(env string, noColor bool, out io.Writer) (Format, error) {
	switch f := Format(env); f {
	case Text, Color, JSON, Off:
		return f, nil
	case "", "auto":
	default:
		return "", fmt.Errorf("%s=%q: use text, color, json or off", runtimeenv.Log, env)
	}
	switch {
	case !isTerminal(out):
		return JSON, nil
	case noColor:
		return Text, nil
	}
	return Color, nil
}

// isTerminal reports whether w is a character device: a terminal, or
// /dev/null, where the format does not matter.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Log writes one line per invocation to its writer. Create it with New; it
// is safe for concurrent use.
type Log struct {
	w          io.Writer
	format     Format
	routeWidth int

	mu  sync.Mutex
	buf []byte
}

// New returns a Log writing lines of format ("" means Text) to w, with the
// route column as wide as m's longest route key.
func New(w io.Writer, format Format, m *manifest.Manifest) (*Log, error) {
	switch format {
	case "":
		format = Text
	case Text, Color, JSON:
	default:
		return nil, fmt.Errorf("invocationlog: format %q: use text, color or json", format)
	}
	l := &Log{w: w, format: format, routeWidth: len("$disconnect"), buf: make([]byte, 0, 256)}
	for _, r := range m.Routes {
		l.routeWidth = max(l.routeWidth, len(r.Key))
	}
	return l, nil
}

// Wrap returns next, logging each invocation when it returns (or panics).
func (l *Log) Wrap(next func(context.Context, *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)) func(context.Context, *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (resp events.APIGatewayProxyResponse, err error) {
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				perr, ok := p.(error) // such as the framework's *PanicError
				if !ok {
					perr = fmt.Errorf("panic: %v", p)
				}
				l.write(start, ev, 0, perr)
				panic(p)
			}
			l.write(start, ev, resp.StatusCode, err)
		}()
		return next(ctx, ev)
	}
}

// Refused writes the line of a frame the API answered with an error frame
// itself, without invoking the app (an emulator.Rejection): route is the
// route whose model refused it ("" when none matched, shown as "-"),
// status the HTTP status API Gateway logs (400 or 403), reason why. The
// line has no latency.
func (l *Log) Refused(at time.Time, route, connectionID, requestID string, status int, reason string) {
	if route == "" {
		route = "-"
	}
	l.writeLine(at, -1, route, connectionID, requestID, status, reason, false)
}

const (
	ansiReset  = "\x1b[0m"
	ansiDim    = "\x1b[2m"
	ansiCyan   = "\x1b[36m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
)

func (l *Log) write(start time.Time, ev *events.APIGatewayWebsocketProxyRequest, status int, err error) {
	d := time.Since(start)
	rc := &ev.RequestContext
	var reason string
	if err != nil {
		reason = err.Error()
	}
	l.writeLine(start, d, rc.RouteKey, rc.ConnectionID, rc.RequestID, status, reason, err != nil)
}

// writeLine writes one line; d < 0 means no latency, failed an invocation
// that returned an error (shown as ERR), reason the error or why the frame
// was refused.
func (l *Log) writeLine(start time.Time, d time.Duration, route, connectionID, requestID string, status int, reason string, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf[:0]
	if l.format == JSON {
		b = append(b, `{"time":"`...)
		b = start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
		b = append(b, `","route":`...)
		b = appendJSONString(b, route)
		b = append(b, `,"connectionId":`...)
		b = appendJSONString(b, connectionID)
		b = append(b, `,"requestId":`...)
		b = appendJSONString(b, requestID)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		if d >= 0 {
			b = append(b, `,"durationMs":`...)
			b = strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'f', 3, 64)
		}
		if reason != "" {
			b = append(b, `,"error":`...)
			b = appendJSONString(b, reason)
		}
		b = append(b, "}\n"...)
	} else {
		color := l.format == Color
		paint := func(b []byte, code string) []byte {
			if color {
				b = append(b, code...)
			}
			return b
		}
		b = paint(b, ansiDim)
		b = start.AppendFormat(b, "15:04:05.000")
		b = paint(b, ansiReset)
		b = append(b, "  "...)
		b = paint(b, ansiCyan)
		b = append(b, route...)
		b = paint(b, ansiReset)
		for i := len(route); i < l.routeWidth+2; i++ {
			b = append(b, ' ')
		}
		b = append(b, connectionID...)
		b = append(b, "  "...)
		switch {
		case failed || status >= 500:
			b = paint(b, ansiRed)
		case status >= 400:
			b = paint(b, ansiYellow)
		default:
			b = paint(b, ansiGreen)
		}
		if failed {
			b = append(b, "ERR"...)
		} else {
			b = strconv.AppendInt(b, int64(status), 10)
		}
		b = paint(b, ansiReset)
		if d >= 0 {
			b = appendLatency(b, d)
		} else {
			b = append(b, "         -"...)
		}
		if reason != "" {
			b = append(b, "  "...)
			b = append(b, reason...)
		}
		b = append(b, '\n')
	}
	l.buf = b
	_, _ = l.w.Write(b)
}

// appendLatency appends d right-aligned in 10 columns with three
// significant digits: "    412µs", "   12.3ms", "    1.20s".
func appendLatency(b []byte, d time.Duration) []byte {
	var num [16]byte
	n := num[:0]
	switch {
	case d < time.Millisecond:
		n = strconv.AppendInt(n, d.Microseconds(), 10)
		n = append(n, "µs"...)
	case d < time.Second:
		ms := float64(d) / float64(time.Millisecond)
		prec := 1
		if ms < 10 {
			prec = 2
		} else if ms >= 100 {
			prec = 0
		}
		n = strconv.AppendFloat(n, ms, 'f', prec, 64)
		n = append(n, "ms"...)
	default:
		n = strconv.AppendFloat(n, d.Seconds(), 'f', 2, 64)
		n = append(n, 's')
	}
	width := utf8.RuneCount(n)
	for i := width; i < 10; i++ {
		b = append(b, ' ')
	}
	return append(b, n...)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
