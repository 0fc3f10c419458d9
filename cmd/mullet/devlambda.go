package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/framework/lambdaruntime"
	"github.com/mulletgo/mullet/framework/manifest"
)

// lambdaDev is the part of `mullet dev -runtime lambda` that differs from
// the in-process runtime: the app is built as a Lambda bootstrap, and this
// process serves the emulator itself, invoking a lambdaruntime.Pool of the
// bootstrap's instances.
type lambdaDev struct {
	table, endpoint string
	instances       int
	timeout         time.Duration
	statsEvery      time.Duration
}

// lambdaBuild is one build of the app: its bootstrap and the manifest it
// declares.
type lambdaBuild struct {
	bin      string // the bootstrap, built as for Lambda (-tags lambda.norpc)
	pagesBin string // the same app built for local serving, for its pages
	manifest *manifest.Manifest
	encoded  []byte
}

// runLambda is devLoop.run for -runtime lambda.
func (d *devLoop) runLambda(ctx context.Context) error {
	last, err := snapshot(d.dir)
	if err != nil {
		return err
	}
	b, err := d.buildLambda(ctx, 0)
	if err != nil {
		return fmt.Errorf("first build failed; fix it and run mullet dev again:\n%v", err)
	}
	srv, err := d.serveLambda(ctx, b)
	if err != nil {
		return err
	}
	defer func() { srv.stop() }()

	w := &watcher{snapshot: func() (string, error) { return snapshot(d.dir) }, poll: d.poll, quiet: d.debounce}
	changes := make(chan change, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go w.watch(watchCtx, last, changes)
	var statsTick <-chan time.Time
	if d.lambda.statsEvery > 0 {
		t := time.NewTicker(d.lambda.statsEvery)
		defer t.Stop()
		statsTick = t.C
	}
	lastReported := -1
	for n := 1; ; {
		var ch change
		select {
		case <-ctx.Done():
			return nil
		case <-srv.done:
			return fmt.Errorf("serving stopped: %v", srv.err)
		case <-statsTick:
			if st := srv.pools.current().Stats(); st.Invocations > 0 && st.Invocations != lastReported {
				lastReported = st.Invocations
				fmt.Fprintf(d.stderr, "mullet dev: %s\n", describeStats(st))
			}
			continue
		case ch = <-changes:
		}
		if ch.err != nil {
			return ch.err
		}
		next, built, ok := rebuild(ctx, d, ch, func() (*lambdaBuild, error) { return d.buildLambda(ctx, n) })
		n++
		if ctx.Err() != nil {
			return nil
		}
		if !ok {
			continue
		}
		if bytes.Equal(next.encoded, srv.build.encoded) {
			// Like a Lambda code update: the API and its connections stay,
			// new invocations go to instances of the new build.
			fmt.Fprintf(d.stderr, "mullet dev: built in %v; new invocations go to Lambda instances of the new build (connections stay open)\n", built)
			if err := srv.swap(next); err != nil {
				return err
			}
			lastReported = -1
			continue
		}
		fmt.Fprintf(d.stderr, "mullet dev: built in %v; the routes changed, so the API restarts (connections close)\n", built)
		srv.stop()
		if srv, err = d.serveLambda(ctx, next); err != nil {
			return err
		}
		lastReported = -1
	}
}

// buildLambda builds the bootstrap and reads its manifest.
func (d *devLoop) buildLambda(ctx context.Context, n int) (*lambdaBuild, error) {
	bin, err := filepath.Abs(filepath.Join(d.tmp, fmt.Sprintf("bootstrap-%d", n)))
	if err != nil {
		return nil, err
	}
	if err := lambdaruntime.Build(ctx, d.dir, bin); err != nil {
		// The compiler's output, as the in-process runtime shows it.
		if _, out, ok := strings.Cut(err.Error(), "failed:\n"); ok {
			return nil, errors.New(out)
		}
		return nil, err
	}
	m, encoded, err := readManifest(ctx, bin)
	if err != nil {
		return nil, err
	}
	// A Lambda build leaves local serving out, so the app's pages (such as
	// the chat page) come from a second, ordinary build of the same code.
	pagesBin, err := d.build(ctx, n)
	if err != nil {
		return nil, err
	}
	return &lambdaBuild{bin: bin, pagesBin: pagesBin, manifest: m, encoded: encoded}, nil
}

// readManifest runs the bootstrap with MULLET_PRINT_MANIFEST set, which
// mullet.Main answers with the app's manifest.
func readManifest(ctx context.Context, bin string) (*manifest.Manifest, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{mullet.EnvPrintManifest + "=1"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("reading the app's routes (%s=1 %s): %v\n%s", mullet.EnvPrintManifest, bin, err, stderr.String())
	}
	m, err := manifest.Decode(stdout.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("the app printed no manifest with %s=1; does its main call mullet.Main? %v", mullet.EnvPrintManifest, err)
	}
	return m, stdout.Bytes(), nil
}

// lambdaServer is the emulator serving one manifest, with the pool of the
// current build behind it.
type lambdaServer struct {
	d      *devLoop
	build  *lambdaBuild
	pools  *pools
	pages  pages
	cancel context.CancelFunc
	done   chan struct{} // closed when ServeManifest has returned err
	err    error
}

// serveLambda starts serving b and waits until the server accepts
// connections.
func (d *devLoop) serveLambda(ctx context.Context, b *lambdaBuild) (*lambdaServer, error) {
	format, err := devLogFormat(os.Getenv(mullet.EnvLog), d.stdout)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(d.stderr, nil))
	s := &lambdaServer{d: d, build: b, done: make(chan struct{})}
	s.pools = &pools{newPool: func(bin, callbackURL string) (*lambdaruntime.Pool, error) {
		return lambdaruntime.NewPool(&lambdaruntime.Options{
			Bootstrap:    bin,
			Dir:          d.dir,
			FunctionName: b.manifest.Name,
			MaxInstances: d.lambda.instances,
			Timeout:      d.lambda.timeout,
			Output:       d.stderr,
			Logger:       logger,
			Env:          mullet.LocalLambdaEnv(d.lambda.table, d.lambda.endpoint, callbackURL, d.stage),
		})
	}}
	s.pages.start(b.pagesBin, d.dir, d.stderr)
	opts := &mullet.LocalOptions{
		Addr:   d.addr,
		Stage:  d.stage,
		Out:    d.stdout,
		Logger: logger,
		Page:   &s.pages,
		Integration: func(callbackURL string) (mullet.Integration, error) {
			s.pools.callbackURL = callbackURL
			if err := s.pools.swap(b.bin); err != nil {
				return nil, err
			}
			return s.pools, nil
		},
	}
	if format != "off" {
		opts.InvocationLog, opts.InvocationLogFormat = d.stdout, format
	}
	ready := make(chan struct{})
	opts.Ready = func(string, string) { close(ready) }
	serveCtx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	go func() {
		s.err = mullet.ServeManifest(serveCtx, b.manifest, opts)
		close(s.done)
	}()
	select {
	case <-ready:
		fmt.Fprintf(d.stdout, "  runtime: Lambda instances of %s (up to %d, timeout %v) behind an emulated Lambda Runtime API\n",
			d.dir, d.lambda.instances, d.lambda.timeout)
		return s, nil
	case <-s.done:
		cancel()
		s.pages.stop()
		return nil, s.err
	}
}

// swap points the server at a new build of the same manifest.
func (s *lambdaServer) swap(b *lambdaBuild) error {
	if st := s.pools.current().Stats(); st.Invocations > 0 {
		fmt.Fprintf(s.d.stderr, "mullet dev: previous build: %s\n", describeStats(st))
	}
	if err := s.pools.swap(b.bin); err != nil {
		return err
	}
	s.build = b
	s.pages.start(b.pagesBin, s.d.dir, s.d.stderr)
	return nil
}

// stop shuts the server down (closing every pool) and prints the last
// build's latency summary.
func (s *lambdaServer) stop() {
	if s == nil {
		return
	}
	st := s.pools.current().Stats()
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(45 * time.Second):
		fmt.Fprintf(s.d.stderr, "mullet dev: the server did not stop within 45s\n")
	}
	s.pages.stop()
	if st.Invocations > 0 {
		fmt.Fprintf(s.d.stderr, "mullet dev: %s\n", describeStats(st))
	}
}

// devLogFormat is the invocation log's format, as mullet.Main chooses it
// for an app's stdout.
func devLogFormat(env string, stdout io.Writer) (string, error) {
	switch env {
	case "text", "color", "json", "off":
		return env, nil
	case "", "auto":
	default:
		return "", fmt.Errorf("%s=%q: use text, color, json or off", mullet.EnvLog, env)
	}
	f, ok := stdout.(*os.File)
	if !ok {
		return "json", nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return "json", nil
	}
	if os.Getenv("NO_COLOR") != "" {
		return "text", nil
	}
	return "color", nil
}

// describeStats is the pool's one-line summary.
func describeStats(st lambdaruntime.Stats) string {
	return fmt.Sprintf("lambda: %d instance(s) running (%d idle), %d started; %d invocations, %d failed; cold p50 %v; warm p50 %v, p99 %v",
		st.Running, st.Idle, st.Started, st.Invocations, st.Errors,
		st.Cold.P50.Round(10*time.Microsecond), st.Warm.P50.Round(10*time.Microsecond), st.Warm.P99.Round(10*time.Microsecond))
}

// pools is the integration the emulator invokes: the pool of the current
// build. Swapping in a new build's pool lets the old one finish what it is
// doing.
type pools struct {
	newPool     func(bin, callbackURL string) (*lambdaruntime.Pool, error)
	callbackURL string // set before the first swap
	cur         atomic.Pointer[lambdaruntime.Pool]
	retiring    sync.WaitGroup
}

func (ps *pools) current() *lambdaruntime.Pool { return ps.cur.Load() }

func (ps *pools) swap(bin string) error {
	p, err := ps.newPool(bin, ps.callbackURL)
	if err != nil {
		return err
	}
	if old := ps.cur.Swap(p); old != nil {
		ps.retiring.Add(1)
		go func() {
			defer ps.retiring.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			old.Shutdown(ctx)
		}()
	}
	return nil
}

// Invoke invokes the current build. An event refused by a pool that was
// just retired never ran, and goes to the new one.
func (ps *pools) Invoke(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	for {
		p := ps.cur.Load()
		resp, err := p.Invoke(ctx, ev)
		if err == lambdaruntime.ErrClosed && ps.cur.Load() != p {
			continue
		}
		return resp, err
	}
}

// Close closes the current pool and waits for retired ones.
func (ps *pools) Close() error {
	if p := ps.cur.Load(); p != nil {
		p.Close()
	}
	ps.retiring.Wait()
	return nil
}

// pages serves what the app serves outside the stage (such as the chat
// example's web page), which its Lambda binary cannot: it runs the build in
// its local mode on a private loopback port and proxies to it.
type pages struct {
	cur atomic.Pointer[pageServer]
}

type pageServer struct {
	cmd   *exec.Cmd
	done  chan struct{}
	proxy *httputil.ReverseProxy
}

func (pg *pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ps := pg.cur.Load()
	if ps == nil {
		http.NotFound(w, r)
		return
	}
	ps.proxy.ServeHTTP(w, r)
}

// start runs bin as the page server, replacing the previous one. If it
// cannot, pages answer 404.
func (pg *pages) start(bin, dir string, stderr io.Writer) {
	ps, err := startPageServer(bin, dir)
	if err != nil {
		fmt.Fprintf(stderr, "mullet dev: cannot run the app for its pages: %v\n", err)
	}
	pg.cur.Swap(ps).stop()
}

func (pg *pages) stop() { pg.cur.Swap(nil).stop() }

func startPageServer(bin, dir string) (*pageServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	env := make([]string, 0, len(os.Environ())+3)
	for _, kv := range os.Environ() {
		// The page server never handles an invocation; it keeps nothing.
		if !strings.HasPrefix(kv, "MULLET_") && !strings.HasPrefix(kv, "AWS_LAMBDA_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, mullet.EnvAddr+"="+addr, mullet.EnvLog+"=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ps := &pageServer{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(ps.done) }()
	// Wait (briefly) until it listens, so that the first page loads.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			break
		}
		select {
		case <-ps.done:
			return nil, fmt.Errorf("it exited: %v", cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
	}
	ps.proxy = httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})
	ps.proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "mullet dev: the app's page server is not answering: "+err.Error(), http.StatusBadGateway)
	}
	return ps, nil
}

// stop ends the page server: SIGTERM, then SIGKILL after 5 seconds.
func (ps *pageServer) stop() {
	if ps == nil {
		return
	}
	stopGroup(ps.cmd.Process.Pid, ps.done)
}
