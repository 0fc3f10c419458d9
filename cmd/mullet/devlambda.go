package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/bootstrap"
	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/local/invocationlog"
	"github.com/mulletgo/mullet/local/lambdaruntime"
	"github.com/mulletgo/mullet/manifest"
)

// instancesDev is the part of `mullet dev` that differs for -runtime local
// and lambda: the app runs as Lambda instances (a lambdaruntime.Pool of
// processes of one build), and this process serves the emulator itself
// and swaps pools on a rebuild.
type instancesDev struct {
	// awsBuild: the AWS Lambda build (-tags lambda.norpc, -runtime
	// lambda); else the local build (-runtime local), which can reach
	// mullet dev's memory store.
	awsBuild   bool
	max        int
	timeout    time.Duration
	statsEvery time.Duration
}

// instanceBuild is one build of the app: its binary and the manifest it
// declares.
type instanceBuild struct {
	bin      string
	manifest *manifest.Manifest
	encoded  []byte
}

// runInstances is devLoop.run for -runtime local and lambda.
func (d *devLoop) runInstances(ctx context.Context, st *pendingStore) error {
	last, err := snapshot(d.dir)
	if err != nil {
		return err
	}
	b, err := d.buildInstance(ctx, 0)
	if err != nil {
		return fmt.Errorf("first build failed; fix it and run mullet dev again:\n%v", err)
	}
	backend, err := st.wait()
	if err != nil {
		return err
	}
	if !d.noDashboard {
		if d.dash, err = startDashboard(d.addr, d.stage, b.manifest.Name, backend.inspect, os.Environ()); err != nil {
			return err
		}
		defer d.dash.close()
	}
	srv, err := d.serveInstances(ctx, b, backend)
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
	if d.instances.statsEvery > 0 {
		t := time.NewTicker(d.instances.statsEvery)
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
		next, built, ok := rebuild(ctx, d, ch, func() (*instanceBuild, error) { return d.buildInstance(ctx, n) })
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
		// The emulator reads its routes once, as API Gateway deploys a
		// stage: new routes take a new API. The store stays.
		fmt.Fprintf(d.stderr, "mullet dev: built in %v; the routes changed, so the API restarts (connections close; the store keeps the rest)\n", built)
		srv.stop()
		if srv, err = d.serveInstances(ctx, next, backend); err != nil {
			return err
		}
		lastReported = -1
	}
}

// buildInstance builds the app for its instances and reads its manifest.
func (d *devLoop) buildInstance(ctx context.Context, n int) (*instanceBuild, error) {
	name, opts := "app", &bootstrap.Options{Local: true}
	if d.instances.awsBuild {
		name, opts = "bootstrap", nil
	}
	bin, err := filepath.Abs(filepath.Join(d.tmp, fmt.Sprintf("%s-%d", name, n)))
	if err != nil {
		return nil, err
	}
	if err := bootstrap.Build(ctx, d.dir, bin, opts); err != nil {
		return nil, compilerOutput(err)
	}
	m, encoded, err := bootstrap.ReadManifest(ctx, bin)
	if err != nil {
		return nil, err
	}
	return &instanceBuild{bin: bin, manifest: m, encoded: encoded}, nil
}

// instancesServer is the emulator serving one manifest, with the pool of
// the current build behind it.
type instancesServer struct {
	d      *devLoop
	build  *instanceBuild
	pools  *pools
	cancel context.CancelFunc
	done   chan struct{} // closed when ServeManifest has returned err
	err    error
}

// serveInstances starts serving b with its state in backend and waits
// until the server accepts connections.
func (d *devLoop) serveInstances(ctx context.Context, b *instanceBuild, backend *storeBackend) (*instancesServer, error) {
	format, err := invocationlog.FormatFor(os.Getenv(runtimeenv.Log), os.Getenv("NO_COLOR") != "", d.stdout)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(d.stderr, nil))
	s := &instancesServer{d: d, build: b, done: make(chan struct{})}
	s.pools = &pools{newPool: func(bin, callbackURL string) (*lambdaruntime.Pool, error) {
		c := local.LambdaConfig(backend.instance.Table, backend.instance.DynamoDBEndpoint, callbackURL)
		c.DevStoreURL = backend.instance.DevStoreURL
		env := append(c.Environ(), backend.instanceEnv...)
		if d.dash != nil {
			env = append(env, d.dash.instanceEnv...)
		}
		if v := os.Getenv(runtimeenv.Metrics); v != "" {
			// As in AWS, where infra sets it on the function: the
			// instances write their EMF lines to their output.
			env = append(env, runtimeenv.Metrics+"="+v)
		}
		if !d.instances.awsBuild && os.Getenv("GOGC") == "" {
			// As for -runtime inprocess (localGOGC): the instances make
			// the pushes.
			env = append(env, "GOGC="+localGOGC)
		}
		return lambdaruntime.NewPool(&lambdaruntime.Options{
			Bootstrap:    bin,
			Dir:          d.dir,
			FunctionName: b.manifest.Name,
			MaxInstances: d.instances.max,
			Timeout:      d.instances.timeout,
			Region:       backend.region,
			Output:       d.stderr,
			Logger:       logger,
			Env:          env,
		})
	}}
	opts := &local.Options{
		Addr:  d.addr,
		Stage: d.stage,
		// Instances given real AWS credentials for a table in AWS sign
		// their pushes with those, which the emulator cannot verify.
		AnySignature: d.anySignature || len(backend.instanceEnv) > 0,
		APIKeys:      d.apiKeys,
		Out:          d.stdout,
		Logger:       logger,
		Integration: func(callbackURL string) (local.Integration, error) {
			s.pools.callbackURL = callbackURL
			if err := s.pools.swap(b.bin); err != nil {
				return nil, err
			}
			if d.dash != nil {
				d.dash.callbackURL.Store(&callbackURL)
				return d.dash.integration(s.pools), nil
			}
			return s.pools, nil
		},
	}
	if d.webDir != "" {
		opts.Page = http.FileServerFS(os.DirFS(d.webDir))
	}
	if opts.Page, err = asyncAPIHandler(b.manifest, "ws://"+d.addr+"/"+d.stage, opts.Page); err != nil {
		return nil, err
	}
	if format != invocationlog.Off {
		opts.InvocationLog, opts.InvocationLogFormat = d.stdout, format
	}
	if d.dash != nil {
		opts.Page = d.dash.page(opts.Page)
		opts.Rejected = d.dash.refused
	}
	ready := make(chan struct{})
	opts.Ready = func(string, string) { close(ready) }
	serveCtx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	go func() {
		s.err = local.ServeManifest(serveCtx, b.manifest, opts)
		close(s.done)
	}()
	select {
	case <-ready:
		build := "local build"
		if d.instances.awsBuild {
			build = "AWS Lambda build with -tags lambda.norpc"
		}
		fmt.Fprintf(d.stdout, "  runtime: Lambda instances of %s, its %s (up to %d, timeout %v), behind an emulated Lambda Runtime API\n",
			d.dir, build, d.instances.max, d.instances.timeout)
		fmt.Fprintf(d.stdout, "  store: %s\n", backend.describe)
		fmt.Fprintf(d.stdout, "  asyncapi: http://%s%s (TypeScript types: %s)\n", d.addr, asyncAPIPath, typesPath)
		if d.dash != nil {
			fmt.Fprintf(d.stdout, "  dashboard: %s (traces: %s)\n", d.dash.url(d.addr), d.dash.tracesTo)
		}
		if v := os.Getenv(runtimeenv.Metrics); v != "" {
			fmt.Fprintf(d.stdout, "  metrics: %s=%s: the instances write CloudWatch EMF lines to their output, as in Lambda\n", runtimeenv.Metrics, v)
		}
		return s, nil
	case <-s.done:
		cancel()
		return nil, s.err
	}
}

// swap points the server at a new build of the same manifest.
func (s *instancesServer) swap(b *instanceBuild) error {
	if st := s.pools.current().Stats(); st.Invocations > 0 {
		fmt.Fprintf(s.d.stderr, "mullet dev: previous build: %s\n", describeStats(st))
	}
	if err := s.pools.swap(b.bin); err != nil {
		return err
	}
	s.build = b
	return nil
}

// stop shuts the server down (closing every pool) and prints the last
// build's latency summary.
func (s *instancesServer) stop() {
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
	if st.Invocations > 0 {
		fmt.Fprintf(s.d.stderr, "mullet dev: %s\n", describeStats(st))
	}
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
