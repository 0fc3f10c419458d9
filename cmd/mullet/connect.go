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

	"github.com/mulletgo/mullet/client"
	"github.com/mulletgo/mullet/upgradeauth"
)

func runConnect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("connect", `mullet connect [-send FRAME]... [-wait 1s] [-header 'Name: value']... [-api-key KEY] [-sigv4 header|presign [-region R] [-profile P]] [-no-session] URL

Connects to a websocket endpoint (ws://, wss://; e.g. the URL mullet dev
prints, or an API Gateway stage's wss://ID.execute-api.REGION.amazonaws.com/STAGE)
and prints every frame it receives, prefixed "< ".

Without -send it reads frames from stdin, one a line, sends each as a text
frame (shown prefixed "> ") and quits at end of input (Ctrl-D), or when the
server refuses to take it back after a cut.
With -send it sends the given frames instead, prints the replies until -wait
has passed since the last frame, and quits.

For an API that requires IAM on $connect, -sigv4 signs the handshake (for
execute-api; credentials from the AWS configuration chain, or the
emulator's for a loopback URL); for one that requires API keys, -api-key
sends the key; every reconnect is signed afresh.

Connections are cut (API Gateway: after 10 idle minutes, after 2 hours, on
every network change; an app's DeleteConnection): connect reconnects on its
own and, unless -no-session, resumes its session (docs/protocol.md), so the
messages of durable groups it missed are replayed and each is printed exactly
once, in order. Frames typed or given with -send while disconnected are sent
once it is back.`, stderr)
	var sends, headers multiFlag
	fs.Var(&sends, "send", "a frame to send instead of reading stdin; repeat for several, sent in order")
	wait := fs.Duration("wait", time.Second, "after the last frame is sent (-send, or end of stdin), print replies for this long before closing")
	fs.Var(&headers, "header", "an HTTP header for the handshake, 'Name: value' (e.g. for a $connect authorizer); repeatable")
	dialTimeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the connection to open")
	sigv4 := fs.String("sigv4", "", "sign the handshake with AWS Signature Version 4 for an API that requires IAM on $connect: header (Authorization header) or presign (signature in the URL, as browsers must); credentials from the AWS configuration chain, or the emulator's for a loopback URL")
	region := fs.String("region", "", "with -sigv4: the API's region; default: from an execute-api host, else the AWS configuration")
	profile := fs.String("profile", "", "with -sigv4: the shared configuration profile to sign with")
	apiKey := fs.String("api-key", "", "an API key for an API that requires one on $connect, sent as x-api-key")
	noSession := fs.Bool("no-session", false, "connect without a session: no resume and no replay after a reconnect (see docs/protocol.md)")
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
	// The hooks run on every upgrade, so that each reconnect carries the
	// key and a fresh signature (a SigV4 signature is valid for minutes).
	var hooks []func(context.Context, *http.Request) error
	if *apiKey != "" {
		hooks = append(hooks, upgradeauth.APIKey(*apiKey))
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
		signer := &upgradeauth.Signer{Credentials: cfg.Credentials, Region: cfg.Region, Presign: *sigv4 == "presign"}
		hooks = append(hooks, signer.Sign)
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
		upgrade:     chainUpgrades(hooks),
		noSession:   *noSession,
		stdin:       os.Stdin,
		stdout:      stdout,
		stderr:      stderr,
	}
	if len(sends) == 0 {
		s.prompt = isTerminal(os.Stdin) && isTerminal(stdout)
	}
	return s.run(ctx)
}

// chainUpgrades runs upgrade hooks in order (the API key before the
// signature, which covers it); nil if there are none.
func chainUpgrades(hooks []func(context.Context, *http.Request) error) func(context.Context, *http.Request) error {
	if len(hooks) == 0 {
		return nil
	}
	return func(ctx context.Context, r *http.Request) error {
		for _, h := range hooks {
			if err := h(ctx, r); err != nil {
				return err
			}
		}
		return nil
	}
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
	// upgrade, when set, prepares every upgrade request (signing, API
	// keys): it runs again on each reconnect.
	upgrade   func(ctx context.Context, r *http.Request) error
	noSession bool
	stdin     io.Reader
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
	defer conn.Close()
	if s.prompt {
		fmt.Fprintf(s.stderr, "connected to %s; type a frame and Enter to send it, Ctrl-D to quit\n", s.url)
	} else {
		fmt.Fprintf(s.stderr, "connected to %s\n", s.url)
	}

	// The reader runs until the client ends; its error says how.
	ended := make(chan error, 1)
	go func() {
		for {
			m, err := conn.Receive(context.Background())
			if err != nil {
				ended <- err
				return
			}
			s.received(m)
		}
	}()

	var lines <-chan string
	if len(s.sends) > 0 {
		for _, frame := range s.sends {
			if err := s.send(ctx, conn, frame); err != nil {
				return s.failed(err)
			}
		}
	} else {
		lines = readLines(s.stdin)
		s.showPrompt()
	}
	for lines != nil {
		select {
		case <-ctx.Done():
			return s.hangUp(conn)
		case err := <-ended:
			return s.failed(err)
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
				return s.failed(err)
			}
			s.showPrompt()
		}
	}
	// Input is over: print what still arrives for s.wait, then close.
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case err := <-ended:
		return s.failed(err)
	case <-t.C:
	}
	return s.hangUp(conn)
}

// dial opens the client: a session that survives cuts (package client).
func (s *session) dial(ctx context.Context) (*client.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.dialTimeout)
	defer cancel()
	opts := &client.Options{
		Header:      s.header,
		Upgrade:     s.upgrade,
		NoSession:   s.noSession,
		DialTimeout: s.dialTimeout,
		// API Gateway limits messages to 128 KB; accept more from other
		// servers rather than fail on them.
		ReadLimit: 16 << 20,
		OnStatus:  s.status,
	}
	conn, err := client.Dial(ctx, s.url, opts)
	if err == nil {
		return conn, nil
	}
	var he *client.HandshakeError
	if errors.As(err, &he) {
		msg := fmt.Sprintf("the server refused the websocket handshake to %s: %d %s", s.url, he.Status, http.StatusText(he.Status))
		if he.Body != "" {
			msg += ": " + he.Body
		}
		switch he.Status {
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

// status reports the client's connection changes on stderr.
func (s *session) status(st client.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clearPrompt := ""
	if s.prompt {
		clearPrompt = "\r\x1b[K"
	}
	var line string
	var ce websocket.CloseError
	switch {
	case st.Connected && st.NewSession:
		line = "reconnected: the server did not resume the session, a new one started (groups must be joined again)"
	case st.Connected && st.Resumed:
		line = "reconnected: session resumed"
	case st.Connected:
		return // the first connection is announced by run
	case errors.Is(st.Err, client.ErrClosed):
		return
	case st.Attempt > 0:
		line = fmt.Sprintf("reconnect attempt %d failed: %v", st.Attempt, st.Err)
	case st.Proactive:
		line = "reconnecting before the connection's 2-hour limit"
	case errors.As(st.Err, &ce):
		line = fmt.Sprintf("closed by the server: %s; reconnecting", describeClose(ce.Code, ce.Reason))
	default:
		line = fmt.Sprintf("connection lost: %v; reconnecting", st.Err)
	}
	io.WriteString(s.stdout, clearPrompt)
	fmt.Fprintln(s.stderr, line)
	if s.prompt {
		io.WriteString(s.stdout, "> ")
	}
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

func (s *session) send(ctx context.Context, conn *client.Conn, frame string) error {
	if !s.prompt {
		s.print(prefixLines("> ", frame))
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return conn.Send(wctx, []byte(frame))
}

// received prints a frame as it arrived. A durable message (a msg frame)
// comes through package client: exactly once and in stream order, whatever
// cuts, replays and duplicate pushes happened.
func (s *session) received(m client.Message) {
	text := string(m.Raw)
	switch {
	case m.Kind == client.KindSessionLost:
		return // reported by status
	case m.Binary:
		text = fmt.Sprintf("(binary frame, %d bytes) %x", len(m.Raw), m.Raw[:min(len(m.Raw), 32)])
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

// hangUp closes the connection from this side.
func (s *session) hangUp(conn *client.Conn) int {
	s.mu.Lock()
	if s.prompt {
		io.WriteString(s.stdout, "\r\x1b[K")
		s.prompt = false
	}
	s.mu.Unlock()
	conn.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.stderr, "closed: %s\n", describeClose(websocket.StatusNormalClosure, ""))
	return 0
}

// failed reports why the client ended: the server refused to take it
// back, or a send failed.
func (s *session) failed(err error) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prompt {
		io.WriteString(s.stdout, "\r\x1b[K")
		s.prompt = false
	}
	fmt.Fprintf(s.stderr, "mullet connect: %v\n", err)
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
