package local_test

import (
	"context"
	"io"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/internal/syncbuf"
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/local/invocationlog"
)

type setNick struct {
	Nick string `json:"nick" schema:"minLength=1,maxLength=32"`
	Room string `json:"room" schema:"pattern=^[a-z]+$"`
}

// panicLine is the line of devApp's nil map assignment.
var panicLine int

func devApp() *framework.App[struct{}] {
	app := framework.New[struct{}]("devlog", nil)
	framework.Handle(app, "nick", func(ctx context.Context, c *framework.Conn[struct{}], m setNick) error {
		return c.ReplyText(ctx, "ok")
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "boom", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		var seen map[string]bool
		_, _, panicLine, _ = runtime.Caller(0)
		seen[c.ConnectionID()] = true // panics: assignment to entry in nil map
		return nil
	}, nil)
	return app
}

// serveDev serves devApp as mullet dev's child does (local.Serve with the
// invocation log) and returns a client and the log.
func serveDev(t *testing.T, format invocationlog.Format) (*websocket.Conn, *syncbuf.Buffer) {
	t.Helper()
	var log syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- local.Serve(ctx, devApp(), &local.Options{
			Addr: "127.0.0.1:0", Out: io.Discard, InvocationLog: &log, InvocationLogFormat: format,
			Ready: func(ws, _ string) { ready <- ws },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, &log
}

// exchange sends frame, reads the client's answer and returns the log line
// that contains want, waiting for it.
func exchange(t *testing.T, c *websocket.Conn, log *syncbuf.Buffer, frame, want string) (answer, line string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if i := strings.Index(log.String(), want); i >= 0 {
			s := log.String()
			start := strings.LastIndex(s[:i], "\n") + 1
			return string(data), s[start:]
		}
	}
	t.Fatalf("no log line contains %q; the log:\n%s", want, log.String())
	return "", ""
}

// TestDevLogSchemaViolations: a frame that fails its route's model gets
// API Gateway's frame, and its log line names the route and every
// violated field by JSON path.
func TestDevLogSchemaViolations(t *testing.T) {
	c, log := serveDev(t, invocationlog.Text)
	answer, line := exchange(t, c, log, `{"action":"nick","nick":"","room":"Not Lower","x":1}`, "fails its model")
	if !strings.HasPrefix(answer, `{"message": "Invalid request body", "connectionId":"`) {
		t.Errorf("the client got %s, want API Gateway's frame", answer)
	}
	re := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3}  nick +[A-Za-z0-9_=-]{16}  400 +-  route "nick": the frame fails its model: ` +
		regexp.QuoteMeta(`(root): additionalProperties: property "x" is not allowed; /nick: minLength: length must be >= 1, but got 0; /room: pattern: does not match pattern '^[a-z]+$'`) + "\n")
	if !re.MatchString(line) {
		t.Errorf("log line %q does not match %s", line, re)
	}
}

// TestDevLogUnknownAction: a frame whose action matches no route gets API
// Gateway's Forbidden frame, and its log line names the action and the
// routes that exist.
func TestDevLogUnknownAction(t *testing.T) {
	c, log := serveDev(t, invocationlog.JSON)
	answer, line := exchange(t, c, log, `{"action":"shout"}`, "shout")
	if !strings.HasPrefix(answer, `{"message": "Forbidden", "connectionId":"`) {
		t.Errorf("the client got %s, want API Gateway's frame", answer)
	}
	if !strings.Contains(line, `"route":"-"`) || !strings.Contains(line, `"status":403`) ||
		!strings.Contains(line, `"error":"no route \"shout\" and no $default route; routes: boom, nick"`) {
		t.Errorf("log line %s", line)
	}
}

// TestDevLogPanicStack: a handler's panic is logged with the route, the
// value, and the handler's file and line first.
func TestDevLogPanicStack(t *testing.T) {
	c, log := serveDev(t, invocationlog.Text)
	answer, line := exchange(t, c, log, `{"action":"boom"}`, "panicked")
	if !strings.HasPrefix(answer, `{"message": "Internal server error", "connectionId":"`) {
		t.Errorf("the client got %s", answer)
	}
	lines := strings.Split(strings.TrimSpace(line), "\n")
	if !strings.Contains(lines[0], ` ERR `) || !strings.HasSuffix(lines[0], `the handler of route "boom" panicked: assignment to entry in nil map`) {
		t.Errorf("first line %q", lines[0])
	}
	if len(lines) < 3 || !strings.Contains(lines[1], "devApp.func2") || !strings.HasSuffix(lines[2], "local/devlog_test.go:"+strconv.Itoa(panicLine+1)) {
		t.Errorf("the stack does not start with the handler's function, file and line (devlog_test.go:%d):\n%s", panicLine+1, line)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "frames of mullet and the Go runtime") {
		t.Errorf("last line %q", last)
	}
}
