package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/upgradeauth"
)

func runConnect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("connect", `mullet connect [-send FRAME]... [-wait 1s] [-header 'Name: value']... [-api-key KEY] [-sigv4 header|presign [-region R] [-profile P]] URL

Connects to a websocket endpoint (ws://, wss://; e.g. the URL mullet dev
prints, or an API Gateway stage's wss://ID.execute-api.REGION.amazonaws.com/STAGE)
and prints every frame it receives, prefixed "< ".

Without -send it reads frames from stdin, one a line, sends each as a text
frame (shown prefixed "> ") and quits at end of input (Ctrl-D) or when the
server closes the connection, printing the close code and reason.
With -send it sends the given frames instead, prints the replies until -wait
has passed since the last frame, and quits.

For an API that requires IAM on $connect, -sigv4 signs the handshake (for
execute-api; credentials from the AWS configuration chain, or the
emulator's for a loopback URL); for one that requires API keys, -api-key
sends the key.`, stderr)
	var sends, headers multiFlag
	fs.Var(&sends, "send", "a frame to send instead of reading stdin; repeat for several, sent in order")
	wait := fs.Duration("wait", time.Second, "after the last frame is sent (-send, or end of stdin), print replies for this long before closing")
	fs.Var(&headers, "header", "an HTTP header for the handshake, 'Name: value' (e.g. for a $connect authorizer); repeatable")
	dialTimeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the connection to open")
	sigv4 := fs.String("sigv4", "", "sign the handshake with AWS Signature Version 4 for an API that requires IAM on $connect: header (Authorization header) or presign (signature in the URL, as browsers must); credentials from the AWS configuration chain, or the emulator's for a loopback URL")
	region := fs.String("region", "", "with -sigv4: the API's region; default: from an execute-api host, else the AWS configuration")
	profile := fs.String("profile", "", "with -sigv4: the shared configuration profile to sign with")
	apiKey := fs.String("api-key", "", "an API key for an API that requires one on $connect, sent as x-api-key")
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		if fs.NArg() == 0 {
			fmt.Fprintf(stderr, "mullet connect: missing URL, e.g. mullet connect ws://127.0.0.1:8080/local\n")
		} else {
			fmt.Fprintf(stderr, "mullet connect: one URL expected, got %d arguments: %s (quote a frame: -send '{\"action\":\"echo\"}')\n", fs.NArg(), strings.Join(fs.Args(), " "))
		}
		return 2
	}
	target, err := websocketURL(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "mullet connect: %v\n", err)
		return 2
	}
	header := http.Header{}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			fmt.Fprintf(stderr, "mullet connect: -header %q: write it as 'Name: value'\n", h)
			return 2
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if *apiKey != "" {
		_ = upgradeauth.APIKey(*apiKey)(ctx, &http.Request{Header: header})
	}
	switch *sigv4 {
	case "":
		if *region != "" || *profile != "" {
			fmt.Fprintf(stderr, "mullet connect: -region and -profile need -sigv4 header or -sigv4 presign\n")
			return 2
		}
	case "header", "presign":
		cfg, err := callbackConfig(ctx, target, *region, *profile)
		if err != nil {
			fmt.Fprintf(stderr, "mullet connect: -sigv4: %v\n", err)
			return 1
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			fmt.Fprintf(stderr, "mullet connect: %v\n", err)
			return 2
		}
		req.Header = header
		signer := &upgradeauth.Signer{Credentials: cfg.Credentials, Region: cfg.Region, Presign: *sigv4 == "presign"}
		if err := signer.Sign(ctx, req); err != nil {
			fmt.Fprintf(stderr, "mullet connect: %v\n", err)
			return 1
		}
		target, header = req.URL.String(), req.Header
	default:
		fmt.Fprintf(stderr, "mullet connect: -sigv4 %q: use header or presign\n", *sigv4)
		return 2
	}
	if *wait < 0 {
		fmt.Fprintf(stderr, "mullet connect: -wait must not be negative\n")
		return 2
	}
	s := &session{
		url:         target,
		header:      header,
		sends:       sends,
		wait:        *wait,
		dialTimeout: *dialTimeout,
		stdin:       os.Stdin,
		stdout:      stdout,
		stderr:      stderr,
	}
	if len(sends) == 0 {
		s.prompt = isTerminal(os.Stdin) && isTerminal(stdout)
	}
	return s.run(ctx)
}

// multiFlag is a string flag that may be repeated.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// websocketURL checks a URL given to connect; http and https are taken as
// ws and wss, as browsers do.
func websocketURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		return "", fmt.Errorf("URL %q has no scheme: write ws://%s (or wss:// for API Gateway)", raw, raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("URL %q: %v", raw, err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("URL %q: scheme %q is not a websocket scheme; use ws:// or wss://", raw, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("URL %q has no host", raw)
	}
	return u.String(), nil
}

// session is one run of mullet connect.
type session struct {
	url         string
	header      http.Header
	sends       []string // -send frames; none: read stdin
	wait        time.Duration
	dialTimeout time.Duration
	stdin       io.Reader
	// prompt shows "> " before each line typed on a terminal; the
	// terminal itself echoes what is typed. Without it, each frame read
	// from stdin is printed "> FRAME" as it is sent.
	prompt         bool
	stdout, stderr io.Writer

	mu sync.Mutex // serializes output
}

func (s *session) run(ctx context.Context) int {
	conn, err := s.dial(ctx)
	if err != nil {
		fmt.Fprintf(s.stderr, "mullet connect: %v\n", err)
		return 1
	}
	defer conn.CloseNow()
	// API Gateway limits messages to 128 KB; accept more from other
	// servers rather than fail on them.
	conn.SetReadLimit(16 << 20)
	if s.prompt {
		fmt.Fprintf(s.stderr, "connected to %s; type a frame and Enter to send it, Ctrl-D to quit\n", s.url)
	} else {
		fmt.Fprintf(s.stderr, "connected to %s\n", s.url)
	}

	// The reader runs until the connection ends; its error says how.
	closed := make(chan error, 1)
	go func() {
		for {
			typ, data, err := conn.Read(context.Background())
			if err != nil {
				closed <- err
				return
			}
			s.received(typ, data)
		}
	}()

	var lines <-chan string
	if len(s.sends) > 0 {
		for _, frame := range s.sends {
			if err := s.send(ctx, conn, frame); err != nil {
				return s.finish(conn, err, closed)
			}
		}
	} else {
		lines = readLines(s.stdin)
		s.showPrompt()
	}
	for lines != nil {
		select {
		case <-ctx.Done():
			return s.hangUp(conn, closed)
		case err := <-closed:
			return s.serverClosed(err)
		case line, ok := <-lines:
			if !ok {
				lines = nil
				s.mu.Lock()
				if s.prompt {
					// Ctrl-D on an empty line: remove its prompt;
					// what still arrives is printed plainly.
					io.WriteString(s.stdout, "\r\x1b[K")
					s.prompt = false
				}
				s.mu.Unlock()
				break
			}
			if strings.TrimSpace(line) == "" {
				s.showPrompt()
				continue
			}
			if err := s.send(ctx, conn, line); err != nil {
				return s.finish(conn, err, closed)
			}
			s.showPrompt()
		}
	}
	// Input is over: print what still arrives for s.wait, then close.
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case err := <-closed:
		return s.serverClosed(err)
	case <-t.C:
	}
	return s.hangUp(conn, closed)
}

func (s *session) dial(ctx context.Context) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.dialTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, s.url, &websocket.DialOptions{HTTPHeader: s.header})
	if err == nil {
		return conn, nil
	}
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		var body []byte
		if resp.Body != nil {
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
		}
		msg := fmt.Sprintf("the server refused the websocket handshake to %s: %s", s.url, resp.Status)
		if b := strings.TrimSpace(string(body)); b != "" {
			msg += ": " + b
		}
		switch resp.StatusCode {
		case http.StatusForbidden, http.StatusNotFound:
			msg += " (check the stage in the URL path, and whether $connect requires -sigv4 or -api-key)"
		case http.StatusUnauthorized:
			msg += " (the $connect route refused the connection; does it want a -header or a query parameter?)"
		}
		return nil, errors.New(msg)
	}
	var errno syscall.Errno
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &errno) && errno == syscall.ECONNREFUSED:
		return nil, fmt.Errorf("cannot connect to %s: connection refused; is the server running? (mullet dev DIR starts one and prints its URL)", s.url)
	case errors.As(err, &dnsErr):
		return nil, fmt.Errorf("cannot connect to %s: no such host %q", s.url, dnsErr.Name)
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("cannot connect to %s: no answer within %v", s.url, s.dialTimeout)
	}
	return nil, fmt.Errorf("cannot connect to %s: %v", s.url, err)
}

// readLines delivers stdin's lines until its end, then closes the channel.
// The goroutine may outlive the session, blocked in a read; the process
// exits soon after.
func readLines(r io.Reader) <-chan string {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- strings.TrimRight(sc.Text(), "\r")
		}
	}()
	return lines
}

func (s *session) send(ctx context.Context, conn *websocket.Conn, frame string) error {
	if !s.prompt {
		s.print(prefixLines("> ", frame))
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, []byte(frame))
}

func (s *session) received(typ websocket.MessageType, data []byte) {
	text := string(data)
	if typ == websocket.MessageBinary {
		text = fmt.Sprintf("(binary frame, %d bytes) %x", len(data), data[:min(len(data), 32)])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prompt {
		// Replace the prompt line with the frame, then show the prompt
		// again.
		io.WriteString(s.stdout, "\r\x1b[K"+prefixLines("< ", text)+"> ")
		return
	}
	io.WriteString(s.stdout, prefixLines("< ", text))
}

func (s *session) showPrompt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prompt {
		io.WriteString(s.stdout, "> ")
	}
}

func (s *session) print(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	io.WriteString(s.stdout, text)
}

// prefixLines prefixes a frame's first line with p and indents the others,
// ending with a newline.
func prefixLines(p, frame string) string {
	frame = strings.TrimRight(frame, "\n")
	return p + strings.ReplaceAll(frame, "\n", "\n"+strings.Repeat(" ", len(p))) + "\n"
}

// hangUp closes the connection from this side and waits for the server to
// acknowledge.
func (s *session) hangUp(conn *websocket.Conn, closed <-chan error) int {
	s.mu.Lock()
	if s.prompt {
		io.WriteString(s.stdout, "\r\x1b[K")
		s.prompt = false
	}
	s.mu.Unlock()
	err := conn.Close(websocket.StatusNormalClosure, "")
	select {
	case <-closed:
	case <-time.After(time.Second):
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil && websocket.CloseStatus(err) == -1 && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintf(s.stderr, "closed: %v\n", err)
		return 1
	}
	fmt.Fprintf(s.stderr, "closed: %s\n", describeClose(websocket.StatusNormalClosure, ""))
	return 0
}

// finish handles a failed write: the server may have closed meanwhile.
func (s *session) finish(conn *websocket.Conn, writeErr error, closed <-chan error) int {
	select {
	case err := <-closed:
		return s.serverClosed(err)
	case <-time.After(time.Second):
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.stderr, "mullet connect: send: %v\n", writeErr)
	return 1
}

// serverClosed reports how the server ended the connection: 0 for a normal
// closure or going away (API Gateway's idle timeout), 1 otherwise.
func (s *session) serverClosed(err error) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prompt {
		io.WriteString(s.stdout, "\r\x1b[K")
		s.prompt = false
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Fprintf(s.stderr, "closed by the server: %s\n", describeClose(ce.Code, ce.Reason))
		if ce.Code == websocket.StatusNormalClosure || ce.Code == websocket.StatusGoingAway {
			return 0
		}
		return 1
	}
	fmt.Fprintf(s.stderr, "connection lost: %v\n", err)
	return 1
}

// describeClose renders a close code with its meaning and the reason, e.g.
// `1001 (going away) "Going away"`.
func describeClose(code websocket.StatusCode, reason string) string {
	names := map[websocket.StatusCode]string{
		1000: "normal closure",
		1001: "going away",
		1002: "protocol error",
		1003: "unsupported data",
		1005: "no status",
		1006: "abnormal closure",
		1007: "invalid payload",
		1008: "policy violation",
		1009: "message too big",
		1011: "internal error",
		1012: "service restart",
		1013: "try again later",
	}
	s := fmt.Sprintf("%d", int(code))
	if n, ok := names[code]; ok {
		s += " (" + n + ")"
	}
	if reason != "" {
		s += fmt.Sprintf(" %q", reason)
	}
	return s
}

// isTerminal reports whether w is a character device (a terminal; also
// /dev/null, where what is written does not matter).
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
