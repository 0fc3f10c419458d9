// Package loadgen is the load generator behind mullet bench: it starts a
// mullet echo app and a bare websocket echo server (or loads a URL), drives
// them with the same load, and reports round trips per second, latency
// percentiles, CPU per round trip, memory and descriptors, as a table and
// as RESULT lines; its start mode builds and times Lambda bootstraps.
package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/bootstrap"
	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/internal/benchapp"
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/manifest"
)

// Config is one run of the load generator. Counts is the connection
// counts (for Mode "start", the last is the number of starts).
type Config struct {
	// Mode is echo, idle, pair, broadcast or start (see the CLI's help).
	Mode string
	// Route is the mullet route: echo (two-way route response) or push
	// (reply through @connections).
	Route    string
	Counts   []int
	Duration time.Duration
	Payload  int
	// URL, if set, is loaded instead of starting servers.
	URL string
	// Bare also runs the load against a bare coder/websocket echo server.
	Bare bool
	// AppDir is the app's main package, with Mode start.
	AppDir string
	// Pairs, with Mode pair, ends each run after this many pairs have
	// started instead of after Duration (0: Duration).
	Pairs int
	// Third, with Mode pair, sends a third arrival under each pair's name
	// once the pair has released, and measures until it gets an answer
	// (a barrier that refuses answers 409 at once; one that restarts
	// leaves it waiting, which counts as unanswered).
	Third bool
	// Out receives the tables and the RESULT lines.
	Out io.Writer
}

// UsageError is a mistake in a Config, such as an unknown mode.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Run runs the load that c describes and prints its results to c.Out.
// Unless c.URL is set it starts the servers under load as child processes:
// this executable run as "EXE bench-server -kind mullet|bare", which must
// call ServeTarget.
func Run(ctx context.Context, c Config) error {
	switch c.Mode {
	case "start":
		return benchStart(ctx, c.AppDir, c.Counts[len(c.Counts)-1], c.Out)
	case "echo", "idle":
	case "pair", "broadcast":
		// Only the framework has barriers and groups: no bare server.
		c.Bare = false
	default:
		return usageErrorf("-mode %q: use echo, idle, pair, broadcast or start", c.Mode)
	}
	if c.Route != "echo" && c.Route != "push" {
		return usageErrorf("-route %q: use echo or push", c.Route)
	}
	b := &bench{mode: c.Mode, route: c.Route, duration: c.Duration, payload: c.Payload, pairCount: c.Pairs, third: c.Third, out: c.Out}
	targets := []*target{}
	if c.URL != "" {
		targets = append(targets, &target{name: "url", url: c.URL, framed: true})
	} else {
		m, err := spawnServer(ctx, "mullet")
		if err != nil {
			return err
		}
		defer m.stop()
		targets = append(targets, m)
		if c.Bare {
			bs, err := spawnServer(ctx, "bare")
			if err != nil {
				return err
			}
			defer bs.stop()
			targets = append(targets, bs)
		}
	}
	if path := os.Getenv(EnvCPUProfile); path != "" {
		// The load generator's own profile, beside the servers'.
		if f, err := os.Create(path + ".load"); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	return b.run(ctx, targets, c.Counts)
}

// EnvCPUProfile, when set to a path prefix, makes the load generator and
// the servers it starts write CPU profiles to PREFIX.load, PREFIX.mullet
// and PREFIX.bare.
const EnvCPUProfile = "MULLET_BENCH_CPUPROFILE"

// ParseCounts parses comma-separated connection counts.
func ParseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 20000 {
			return nil, fmt.Errorf("%q is not a count between 1 and 20000", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// target is a server under load: a child process when the bench started
// it, or just a URL.
type target struct {
	name   string
	url    string
	framed bool // frames are {"action":...}; false for the bare echo server
	cmd    *exec.Cmd
}

func (t *target) pid() int {
	if t.cmd == nil {
		return 0
	}
	return t.cmd.Process.Pid
}

func (t *target) stop() {
	if t.cmd != nil {
		t.cmd.Process.Signal(syscall.SIGTERM)
		t.cmd.Wait()
	}
}

// spawnServer runs "mullet bench-server KIND" as a child and waits for it
// to print its URL.
func spawnServer(ctx context.Context, kind string) (*target, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "bench-server", "-kind", kind)
	if os.Getenv("GOGC") == "" {
		// As mullet dev runs a local server (localGOGC there): every push
		// allocates ~30 KB in the SDK client and net/http against a small
		// live heap (docs/benchmarks.md, push echo).
		cmd.Env = append(os.Environ(), "GOGC=400")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s server did not start: %v", kind, err)
	}
	go io.Copy(io.Discard, out)
	return &target{name: kind, url: strings.TrimSpace(line), framed: kind == "mullet", cmd: cmd}, nil
}

type bench struct {
	mode, route string
	duration    time.Duration
	payload     int
	pairCount   int  // pair mode: pairs per run, 0 for duration
	third       bool // pair mode: a third arrival after each release
	out         io.Writer
}

type echoResult struct {
	target   string
	conns    int
	rps      float64
	p50, p90 time.Duration
	p99, max time.Duration
	errors   int64
	rssKB    int64
	fds      int
	// cpuPerRT is the server process's CPU time per round trip, which
	// other load on the machine disturbs less than the rate (the machine's
	// own speed still moves it).
	cpuPerRT time.Duration
	// loadCPUPerRT is the load generator's (this process's) CPU time per
	// round trip: on a small machine it shares the cores with the server.
	loadCPUPerRT time.Duration
	// fdsBefore and fdsAfter are the server's open descriptors before the
	// clients connected and a second after they all closed.
	fdsBefore, fdsAfter int
}

func (b *bench) run(ctx context.Context, targets []*target, counts []int) error {
	switch b.mode {
	case "echo":
		fmt.Fprintf(b.out, "echo: route=%s payload=%dB duration=%v per run\n", b.route, b.payload, b.duration)
		fmt.Fprintf(b.out, "%-8s %6s %12s %10s %10s %10s %10s %10s %12s %14s %8s\n", "target", "conns", "round trips/s", "p50", "p90", "p99", "max", "cpu/rt", "load cpu/rt", "fds b/run/a", "errors")
		var results []echoResult
		for _, n := range counts {
			for _, t := range targets {
				r, err := b.echo(ctx, t, n)
				if err != nil {
					return fmt.Errorf("%s, %d connections: %w", t.name, n, err)
				}
				results = append(results, r)
				fmt.Fprintf(b.out, "%-8s %6d %12.0f %10v %10v %10v %10v %10v %12v %14s %8d\n", r.target, r.conns, r.rps,
					r.p50.Round(time.Microsecond), r.p90.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.max.Round(time.Microsecond), r.cpuPerRT.Round(time.Microsecond), r.loadCPUPerRT.Round(time.Microsecond),
					fmt.Sprintf("%d/%d/%d", r.fdsBefore, r.fds, r.fdsAfter), r.errors)
			}
		}
		fmt.Fprint(b.out, "RESULT mode=echo route="+b.route)
		for _, r := range results {
			fmt.Fprintf(b.out, " %s_c%d_rps=%.0f %s_c%d_p50_us=%d %s_c%d_p99_us=%d %s_c%d_cpu_us_per_rt=%.1f %s_c%d_load_cpu_us_per_rt=%.1f %s_c%d_fds_before=%d %s_c%d_fds_after=%d", r.target, r.conns, r.rps,
				r.target, r.conns, r.p50.Microseconds(), r.target, r.conns, r.p99.Microseconds(), r.target, r.conns, float64(r.cpuPerRT.Nanoseconds())/1000,
				r.target, r.conns, float64(r.loadCPUPerRT.Nanoseconds())/1000,
				r.target, r.conns, r.fdsBefore, r.target, r.conns, r.fdsAfter)
		}
		for _, n := range counts {
			m, bare := find(results, "mullet", n), find(results, "bare", n)
			if m != nil && bare != nil && bare.rps > 0 && bare.p99 > 0 {
				fmt.Fprintf(b.out, " ratio_c%d_rps=%.2f ratio_c%d_p99=%.2f", n, m.rps/bare.rps, n, float64(m.p99)/float64(bare.p99))
			}
		}
		fmt.Fprintln(b.out)
	case "pair":
		return b.pairs(ctx, targets[0], counts)
	case "broadcast":
		return b.broadcast(ctx, targets[0], counts)
	case "idle":
		fmt.Fprintf(b.out, "idle: connections held open\n%-8s %6s %14s %14s %12s %10s\n", "target", "conns", "connect p50", "connect p99", "RSS", "fds")
		rss := map[string]int64{}
		for _, n := range counts {
			for _, t := range targets {
				p50, p99, kb, fds, err := b.idle(ctx, t, n)
				if err != nil {
					return fmt.Errorf("%s, %d connections: %w", t.name, n, err)
				}
				rss[fmt.Sprintf("%s_c%d", t.name, n)] = kb
				fmt.Fprintf(b.out, "%-8s %6d %14v %14v %9.1f MB %10d\n", t.name, n, p50.Round(time.Microsecond), p99.Round(time.Microsecond), float64(kb)/1024, fds)
			}
		}
		fmt.Fprint(b.out, "RESULT mode=idle")
		for _, n := range counts {
			m, bare := rss[fmt.Sprintf("mullet_c%d", n)], rss[fmt.Sprintf("bare_c%d", n)]
			fmt.Fprintf(b.out, " mullet_c%d_rss_kb=%d bare_c%d_rss_kb=%d", n, m, n, bare)
			if bare > 0 {
				fmt.Fprintf(b.out, " ratio_c%d_rss=%.2f", n, float64(m)/float64(bare))
			}
		}
		fmt.Fprintln(b.out)
	}
	return nil
}

func find(rs []echoResult, target string, n int) *echoResult {
	for i := range rs {
		if rs[i].target == target && rs[i].conns == n {
			return &rs[i]
		}
	}
	return nil
}

func (b *bench) frame(t *target) []byte {
	data := strings.Repeat("x", b.payload)
	if !t.framed {
		return []byte(data)
	}
	return []byte(`{"action":"` + b.route + `","data":"` + data + `"}`)
}

func dialAll(ctx context.Context, url string, n int) ([]*websocket.Conn, []time.Duration, error) {
	lat := make([]time.Duration, n)
	conns, err := dialEach(ctx, n, func(ctx context.Context, i int) (*websocket.Conn, error) {
		start := time.Now()
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: benchHTTPClient})
		if err != nil {
			return nil, err
		}
		lat[i] = time.Since(start)
		c.SetReadLimit(1 << 20)
		return c, nil
	}, func(c *websocket.Conn) { c.CloseNow() })
	if err != nil {
		return nil, nil, err
	}
	return conns, lat, nil
}

// dialEach opens n connections with dial, 64 at a time, each within 30 s.
// If any fails, it closes the others and returns the first error.
func dialEach[C comparable](ctx context.Context, n int, dial func(ctx context.Context, i int) (C, error), closeConn func(C)) ([]C, error) {
	conns := make([]C, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			c, err := dial(dctx, i)
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		var zero C
		for _, c := range conns {
			if c != zero {
				closeConn(c)
			}
		}
		return nil, err
	}
	return conns, nil
}

// benchHTTPClient dials without a connection limit or keep-alive reuse:
// each websocket needs its own TCP connection.
var benchHTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}}

func (b *bench) echo(ctx context.Context, t *target, n int) (echoResult, error) {
	fdsBefore := fdCount(t.pid())
	conns, err := dialFrameConns(ctx, t.url, n)
	if err != nil {
		return echoResult{}, err
	}
	closeAll := func() {
		for _, c := range conns {
			c.close()
		}
	}
	defer closeAll()
	frame := b.frame(t)
	cpu0, load0 := cpuTime(t.pid()), cpuTime(os.Getpid())
	runCtx, cancel := context.WithTimeout(ctx, b.duration)
	defer cancel()
	// A reply that has not come 10 s after the run ends is an error.
	deadline := time.Now().Add(b.duration + 10*time.Second)
	lats := make([][]time.Duration, n)
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		wg.Go(func() {
			buf := make([]time.Duration, 0, 4096)
			for runCtx.Err() == nil {
				t0 := time.Now()
				if err := c.writeText(frame); err != nil {
					errs.Add(1)
					return
				}
				if _, err := c.readMessage(deadline); err != nil {
					errs.Add(1)
					return
				}
				buf = append(buf, time.Since(t0))
			}
			lats[i] = buf
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	load1 := cpuTime(os.Getpid())
	all := slices.Concat(lats...)
	slices.Sort(all)
	r := echoResult{target: t.name, conns: n, errors: errs.Load()}
	if len(all) > 0 {
		r.rps = float64(len(all)) / elapsed.Seconds()
		r.p50, r.p90, r.p99, r.max = pct(all, 0.50), pct(all, 0.90), pct(all, 0.99), all[len(all)-1]
		r.loadCPUPerRT = (load1 - load0) / time.Duration(len(all))
	}
	if pid := t.pid(); pid > 0 {
		r.rssKB, r.fds = rss(pid), fdCount(pid)
		if len(all) > 0 {
			r.cpuPerRT = (cpuTime(pid) - cpu0) / time.Duration(len(all))
		}
		closeAll()
		time.Sleep(time.Second)
		r.fdsBefore, r.fdsAfter = fdsBefore, fdCount(pid)
	}
	return r, nil
}

func (b *bench) idle(ctx context.Context, t *target, n int) (p50, p99 time.Duration, rssKB int64, fds int, err error) {
	conns, lat, err := dialAll(ctx, t.url, n)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	time.Sleep(time.Second) // let the server settle
	if pid := t.pid(); pid > 0 {
		rssKB, fds = rss(pid), fdCount(pid)
	}
	slices.Sort(lat)
	return pct(lat, 0.5), pct(lat, 0.99), rssKB, fds, nil
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// cpuTime returns the user+system CPU time a process has used (Linux).
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesized command name; utime and stime are
	// fields 14 and 15 (1-based), in clock ticks of 1/100 s.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// rss returns a process's resident set size in KiB (Linux).
func rss(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

func fdCount(pid int) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(entries)
}

// runBenchServer is the hidden child command of mullet bench: it serves
// the built-in echo app (kind mullet) or a bare coder/websocket echo server
// (kind bare) on a free loopback port and prints the websocket URL.
// ServeTarget serves, until ctx is done, a server for the load generator
// on a free loopback port and prints its websocket URL to stdout: the
// built-in echo app behind the emulator (kind "mullet") or a bare
// coder/websocket echo server (kind "bare").
func ServeTarget(ctx context.Context, kind string, stdout io.Writer) error {
	if path := os.Getenv(EnvCPUProfile); path != "" {
		f, err := os.Create(path + "." + kind)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	var err error
	switch kind {
	case "bare":
		err = serveBare(ctx, stdout)
	case "mullet":
		err = local.Serve(ctx, benchapp.New(), &local.Options{
			Addr: "127.0.0.1:0", Out: io.Discard,
			Ready: func(ws, _ string) { fmt.Fprintln(stdout, ws) },
			// The benchmark measures the server, not the account's quota of
			// 500 new connections a second, which the emulator applies by
			// default: open thousands of connections at once.
			ConnectThrottle: &manifest.Throttle{RatePerSecond: 1e6, Burst: 1 << 20},
		})
	default:
		err = usageErrorf("unknown -kind %q", kind)
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func serveBare(ctx context.Context, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(128 << 10)
		for {
			typ, data, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, data); err != nil {
				return
			}
		}
	})}
	fmt.Fprintln(stdout, "ws://"+ln.Addr().String()+"/")
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// pairs runs rendezvous pairs with n pairs in flight, for the duration or
// for b.pairCount pairs.
func (b *bench) pairs(ctx context.Context, t *target, counts []int) error {
	run := fmt.Sprintf("duration %v", b.duration)
	if b.pairCount > 0 {
		run = fmt.Sprintf("%d pairs", b.pairCount)
	}
	fmt.Fprintf(b.out, "pair: barrier of two, %s per run\n%-8s %8s %10s %10s %10s %10s %10s %8s", run, "target", "in flight", "pairs/s", "p50", "p90", "p99", "max", "errors")
	if b.third {
		fmt.Fprintf(b.out, " %10s %10s %10s %10s", "third p50", "third p99", "third max", "unanswered")
	}
	fmt.Fprintln(b.out)
	var result strings.Builder
	result.WriteString("RESULT mode=pair")
	for _, n := range counts {
		runCtx, cancel := context.WithTimeout(ctx, b.duration)
		if b.pairCount > 0 {
			// A count, not a time: the duration only bounds a run that hangs.
			cancel()
			runCtx, cancel = context.WithTimeout(ctx, 10*time.Minute)
		}
		var (
			mu         sync.Mutex
			lats       []time.Duration
			thirds     []time.Duration
			errs       atomic.Int64
			unanswered atomic.Int64
			serial     atomic.Int64
			wg         sync.WaitGroup
		)
		// Names are unique per process too: a released name stays full
		// for its barrier's TTL, so a second run against the same server
		// must not reuse the first one's.
		prefix := fmt.Sprintf("p%d-%d-%x", n, time.Now().UnixNano(), os.Getpid())
		next := func() (string, bool) {
			i := serial.Add(1)
			if runCtx.Err() != nil || (b.pairCount > 0 && i > int64(b.pairCount)) {
				return "", false
			}
			return fmt.Sprintf("%s-%d", prefix, i), true
		}
		start := time.Now()
		for range n {
			wg.Go(func() {
				for name, ok := next(); ok; name, ok = next() {
					r, err := b.onePair(runCtx, t.url, name)
					if errors.Is(err, errUnanswered) {
						unanswered.Add(1)
					} else if err != nil {
						errs.Add(1)
						fmt.Fprintf(b.out, "pair %s: %v\n", name, err)
						continue
					}
					mu.Lock()
					lats = append(lats, r.release)
					if r.third > 0 {
						thirds = append(thirds, r.third)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		cancel()
		elapsed := time.Since(start)
		slices.Sort(lats)
		slices.Sort(thirds)
		rate := float64(len(lats)) / elapsed.Seconds()
		fmt.Fprintf(b.out, "%-8s %8d %10.0f %10v %10v %10v %10v %8d", t.name, n, rate,
			pct(lats, .5).Round(time.Microsecond), pct(lats, .9).Round(time.Microsecond), pct(lats, .99).Round(time.Microsecond), pct(lats, 1).Round(time.Microsecond), errs.Load())
		fmt.Fprintf(&result, " c%d_pairs=%d c%d_pairs_per_s=%.0f c%d_p50_us=%d c%d_p99_us=%d c%d_errors=%d", n, len(lats), n, rate, n, pct(lats, .5).Microseconds(), n, pct(lats, .99).Microseconds(), n, errs.Load())
		if b.third {
			fmt.Fprintf(b.out, " %10v %10v %10v %10d", pct(thirds, .5).Round(time.Microsecond), pct(thirds, .99).Round(time.Microsecond), pct(thirds, 1).Round(time.Microsecond), unanswered.Load())
			fmt.Fprintf(&result, " c%d_third_p50_us=%d c%d_third_p99_us=%d c%d_third_max_us=%d c%d_unanswered=%d", n, pct(thirds, .5).Microseconds(), n, pct(thirds, .99).Microseconds(), n, pct(thirds, 1).Microseconds(), n, unanswered.Load())
		}
		fmt.Fprintln(b.out)
	}
	fmt.Fprintln(b.out, result.String())
	return nil
}

// errUnanswered is a third arrival that got no frame within thirdTimeout.
var errUnanswered = errors.New("the third arrival got no answer")

// thirdTimeout is how long a third arrival waits for its answer before it
// counts as unanswered.
const thirdTimeout = 5 * time.Second

// pairResult is one pair's latencies: the release (second arrival's send
// until both have their answer) and, with a third arrival, its send until
// its answer (0 without one).
type pairResult struct{ release, third time.Duration }

// onePair connects two clients (three with b.third), lets the first
// arrive, then measures from the second arrival's send until both have
// their answer; then the third arrives under the same name.
func (b *bench) onePair(ctx context.Context, url, name string) (pairResult, error) {
	n := 2
	if b.third {
		n = 3
	}
	conns, _, err := dialAll(ctx, url, n)
	if err != nil {
		return pairResult{}, err
	}
	for _, c := range conns {
		defer c.CloseNow()
	}
	msg := []byte(`{"action":"pair","pairing_name":"` + name + `"}`)
	if err := conns[0].Write(ctx, websocket.MessageText, msg); err != nil {
		return pairResult{}, err
	}
	// The first arrival's invocation must be done before the second's
	// starts, or the measurement would include it: wait until the
	// barrier holds it (a 1 ms pause is plenty locally).
	time.Sleep(time.Millisecond)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := conns[1].Write(ctx, websocket.MessageText, msg); err != nil {
		return pairResult{}, err
	}
	for _, c := range conns[:2] {
		if _, data, err := c.Read(rctx); err != nil || !strings.Contains(string(data), "SourceIP") {
			return pairResult{}, fmt.Errorf("pair %s: %q, %v", name, data, err)
		}
	}
	r := pairResult{release: time.Since(t0)}
	if !b.third {
		return r, nil
	}
	tctx, cancel := context.WithTimeout(ctx, thirdTimeout)
	defer cancel()
	t1 := time.Now()
	if err := conns[2].Write(ctx, websocket.MessageText, msg); err != nil {
		return r, err
	}
	if _, _, err := conns[2].Read(tctx); err != nil {
		if tctx.Err() != nil && ctx.Err() == nil {
			return r, errUnanswered
		}
		return r, err
	}
	r.third = time.Since(t1)
	return r, nil
}

// broadcast joins N members to a room; one sender broadcasts in a closed
// loop and each round lasts until every member has the frame.
func (b *bench) broadcast(ctx context.Context, t *target, counts []int) error {
	fmt.Fprintf(b.out, "broadcast: one sender, a room of N members, duration %v per run\n%-8s %8s %12s %12s %10s %10s\n", b.duration, "target", "members", "posts/s", "rounds", "p50", "p99")
	var result strings.Builder
	result.WriteString("RESULT mode=broadcast")
	for _, n := range counts {
		conns, _, err := dialAll(ctx, t.url, n)
		if err != nil {
			return err
		}
		room := fmt.Sprintf("room-%d", n)
		for _, c := range conns {
			if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"join","room":"`+room+`"}`)); err != nil {
				return err
			}
			if _, _, err := c.Read(ctx); err != nil {
				return err
			}
		}
		runCtx, cancel := context.WithTimeout(ctx, b.duration)
		var lats []time.Duration
		data := strings.Repeat("x", b.payload)
		start := time.Now()
		for runCtx.Err() == nil {
			t0 := time.Now()
			if err := conns[0].Write(ctx, websocket.MessageText, []byte(`{"action":"shout","room":"`+room+`","data":"`+data+`"}`)); err != nil {
				cancel()
				return err
			}
			var wg sync.WaitGroup
			var failed atomic.Int64
			for _, c := range conns {
				wg.Go(func() {
					rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
					defer rcancel()
					if _, _, err := c.Read(rctx); err != nil {
						failed.Add(1)
					}
				})
			}
			wg.Wait()
			if failed.Load() > 0 {
				cancel()
				return fmt.Errorf("broadcast to %d members: %d did not receive it", n, failed.Load())
			}
			lats = append(lats, time.Since(t0))
		}
		elapsed := time.Since(start)
		cancel()
		for _, c := range conns {
			c.CloseNow()
		}
		slices.Sort(lats)
		rate := float64(len(lats)*n) / elapsed.Seconds()
		fmt.Fprintf(b.out, "%-8s %8d %12.0f %12d %10v %10v\n", t.name, n, rate, len(lats), pct(lats, .5).Round(time.Microsecond), pct(lats, .99).Round(time.Microsecond))
		fmt.Fprintf(&result, " c%d_posts_per_s=%.0f c%d_round_p50_us=%d c%d_round_p99_us=%d", n, rate, n, pct(lats, .5).Microseconds(), n, pct(lats, .99).Microseconds())
	}
	fmt.Fprintln(b.out, result.String())
	return nil
}

// bareLambda is the baseline of -mode start: the smallest aws-lambda-go
// handler.
const bareLambda = `package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.StartHandlerFunc(func(ctx context.Context, e events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	})
}
`

// sdkLambda is the second baseline of -mode start: a bare handler that
// builds the AWS SDK clients any app of this kind needs (DynamoDB and the
// API Gateway Management API, and attributevalue to encode items), as a
// hand-written one would. Package initialization of those SDK modules
// runs before main in any program that links them; the difference between
// this baseline and the app is what mullet itself adds.
const sdkLambda = `package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func main() {
	cfg := aws.Config{
		Region:      os.Getenv("AWS_REGION"),
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")),
	}
	db := dynamodb.NewFromConfig(cfg)
	cb := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(os.Getenv("MULLET_CALLBACK_URL"))
	})
	table := os.Getenv("MULLET_TABLE")
	lambda.StartHandlerFunc(func(ctx context.Context, e events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		item, err := attributevalue.MarshalMap(map[string]string{"pk": e.RequestContext.ConnectionID})
		if err != nil {
			return events.APIGatewayProxyResponse{StatusCode: 500}, err
		}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
			return events.APIGatewayProxyResponse{StatusCode: 500}, err
		}
		_, err = cb.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &e.RequestContext.ConnectionID, Data: []byte(e.Body)})
		return events.APIGatewayProxyResponse{StatusCode: 200}, err
	})
}
`

func benchStart(ctx context.Context, appDir string, n int, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "mullet-bench-start-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The baseline lives in a directory of this module so that it builds
	// with the same dependency versions.
	bareDir, err := os.MkdirTemp(appDir, "_bare-lambda-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bareDir)
	if err := os.WriteFile(bareDir+"/main.go", []byte(bareLambda), 0o644); err != nil {
		return err
	}
	sdkDir, err := os.MkdirTemp(appDir, "_sdk-lambda-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(sdkDir)
	if err := os.WriteFile(sdkDir+"/main.go", []byte(sdkLambda), 0o644); err != nil {
		return err
	}
	build := func(dir, outPath string, arm bool) (int64, error) {
		var target *bootstrap.Options
		if arm {
			target = &bootstrap.Options{GOOS: "linux", GOARCH: "arm64"}
		}
		if err := bootstrap.Build(ctx, dir, outPath, target); err != nil {
			return 0, err
		}
		fi, err := os.Stat(outPath)
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	}
	appArm, err := build(appDir, tmp+"/app-arm64", true)
	if err != nil {
		return err
	}
	bareArm, err := build(bareDir, tmp+"/bare-arm64", true)
	if err != nil {
		return err
	}
	if _, err := build(appDir, tmp+"/app", false); err != nil {
		return err
	}
	if _, err := build(bareDir, tmp+"/bare", false); err != nil {
		return err
	}
	sdkArm, err := build(sdkDir, tmp+"/sdk-arm64", true)
	if err != nil {
		return err
	}
	if _, err := build(sdkDir, tmp+"/sdk", false); err != nil {
		return err
	}
	fmt.Fprintf(out, "start: %d starts each, process start -> first GET /runtime/invocation/next\n", n)
	fmt.Fprintf(out, "%-8s %14s %12s %12s %12s\n", "binary", "arm64 size", "p50", "p90", "max")
	var app, bare, sdk []time.Duration
	for i := 0; i < n; i++ {
		// Alternate, so that drift in the machine's load hits all alike.
		for _, r := range []struct {
			bin  string
			into *[]time.Duration
		}{{"app", &app}, {"bare", &bare}, {"sdk", &sdk}} {
			d, err := timeToFirstPoll(ctx, tmp+"/"+r.bin)
			if err != nil {
				return err
			}
			*r.into = append(*r.into, d)
		}
	}
	slices.Sort(app)
	slices.Sort(bare)
	slices.Sort(sdk)
	mib := func(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }
	fmt.Fprintf(out, "%-8s %14s %12v %12v %12v\n", "mullet", mib(appArm), pct(app, .5).Round(time.Microsecond), pct(app, .9).Round(time.Microsecond), pct(app, 1).Round(time.Microsecond))
	fmt.Fprintf(out, "%-8s %14s %12v %12v %12v\n", "bare", mib(bareArm), pct(bare, .5).Round(time.Microsecond), pct(bare, .9).Round(time.Microsecond), pct(bare, 1).Round(time.Microsecond))
	fmt.Fprintf(out, "%-8s %14s %12v %12v %12v\n", "bare+sdk", mib(sdkArm), pct(sdk, .5).Round(time.Microsecond), pct(sdk, .9).Round(time.Microsecond), pct(sdk, 1).Round(time.Microsecond))
	fmt.Fprintf(out, "RESULT mode=start app_arm64_bytes=%d bare_arm64_bytes=%d sdk_arm64_bytes=%d app_start_p50_us=%d bare_start_p50_us=%d sdk_start_p50_us=%d ratio_start_p50=%.2f ratio_sdk_start_p50=%.2f\n",
		appArm, bareArm, sdkArm, pct(app, .5).Microseconds(), pct(bare, .5).Microseconds(), pct(sdk, .5).Microseconds(),
		float64(pct(app, .5))/float64(pct(bare, .5)), float64(pct(app, .5))/float64(pct(sdk, .5)))
	return nil
}

// timeToFirstPoll starts bin as the Lambda runtime would, against a fake
// Runtime API, and returns the time until its first poll for an event.
func timeToFirstPoll(ctx context.Context, bin string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	polled := make(chan time.Time, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/2018-06-01/runtime/invocation/next" {
			select {
			case polled <- time.Now():
			default:
			}
			<-r.Context().Done() // hold the poll: no event comes
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{
		runtimeenv.LambdaRuntimeAPI + "=" + ln.Addr().String(),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_SESSION_TOKEN=token",
		"AWS_LAMBDA_FUNCTION_NAME=bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		runtimeenv.Table + "=bench-table", runtimeenv.CallbackURL + "=https://example.execute-api.us-east-1.amazonaws.com/prod",
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	select {
	case t := <-polled:
		return t.Sub(start), nil
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("%s did not poll the Runtime API within 10s", bin)
	}
}
