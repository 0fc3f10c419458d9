package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mulletgo/mullet/bootstrap"
	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/local/dashboard"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/local/lambdaruntime"
)

// The runtimes of mullet dev: how the app runs behind the emulator.
const (
	// runtimeLocal runs the app's local build as Lambda instances;
	// mullet dev holds the emulator and the store, so connections and
	// state outlive every rebuild.
	runtimeLocal = "local"
	// runtimeLambda runs the AWS Lambda build (-tags lambda.norpc), the
	// binary that is deployed, as Lambda instances.
	runtimeLambda = "lambda"
	// runtimeInProcess runs the app's local build as one process that
	// serves the emulator itself, as `go run .` does.
	runtimeInProcess = "inprocess"
)

// endpointAWS is the -dynamodb-endpoint that means real DynamoDB, reached
// through the AWS configuration chain.
const endpointAWS = "aws"

// defaultDevTable is the table mullet dev creates in the dynalite it
// starts.
const defaultDevTable = "mullet-dev"

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dev", `mullet dev [-addr 127.0.0.1:8080] [-stage local] [-debounce 200ms] [-store memory|dynamodb [-dynamodb-endpoint URL|aws -table NAME]] [-runtime local|lambda|inprocess] DIR

Builds the main package in DIR and serves it locally behind the API Gateway
emulator, and rebuilds it when a file under DIR changes (.go, go.mod,
go.sum, .html, .js, .css), once saves have settled for -debounce. A build
that fails is reported and the last good build keeps serving.

mullet dev holds the emulator and the store in its own process and runs the
app as Lambda instances (processes started as concurrent invocations need
them, driven by aws-lambda-go against an emulated Lambda Runtime API). A new
build replaces the function the way a new Lambda version does: open
connections stay open with their IDs, state, groups and barriers stay in the
store, and the next frame runs the new code. Only a change of the routes
restarts the API, closing its connections.

State lives in mullet dev's memory (-store memory, the default) or in
DynamoDB (-store dynamodb): without -dynamodb-endpoint, mullet dev starts
dynalite (a DynamoDB-API server on node, installed by npm) on a free port,
creates the table and stops it on exit; -dynamodb-endpoint URL uses a
DynamoDB-API server you run, and -dynamodb-endpoint aws real DynamoDB.

The live dashboard at http://ADDR/_mullet/ (loopback clients only; off with
-dashboard=false) shows the connections, groups and presence, barriers,
sessions, the invocation log and the traces of each frame, which the
instances export over OTLP to a receiver on 127.0.0.1, and sends frames or
pushes from the page; secrets are never shown.

One line per invocation is printed (route, connection, status, latency):
aligned text on a terminal, JSON lines otherwise; set
MULLET_LOG=text|color|json|off to choose, NO_COLOR to drop colors.`, stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address; loopback unless you mean otherwise")
	stage := fs.String("stage", "local", "API Gateway stage name: ws://ADDR/STAGE")
	poll := fs.Duration("poll", 300*time.Millisecond, "how often to look for changed files (.go, go.mod, go.sum, .html, .js, .css)")
	debounce := fs.Duration("debounce", 200*time.Millisecond, "rebuild once files have stopped changing for this long (editors save in bursts)")
	storeKind := fs.String("store", "memory", "where state lives: memory (in mullet dev) or dynamodb")
	endpoint := fs.String("dynamodb-endpoint", "", "with -store dynamodb: a DynamoDB-API server's URL, e.g. http://127.0.0.1:4567, or aws for real DynamoDB through the AWS configuration chain; empty starts dynalite")
	table := fs.String("table", "", "with -store dynamodb: the table (keys pk/sk, TTL attribute ttl); required with -dynamodb-endpoint, default "+defaultDevTable+" in the dynalite mullet dev starts")
	runtimeKind := fs.String("runtime", runtimeLocal, "how the app runs: local (its local build as Lambda instances; connections and state survive rebuilds), lambda (its AWS Lambda build, -tags lambda.norpc, as Lambda instances; needs -store dynamodb) or inprocess (its local build serves the emulator itself, as go run does; every rebuild closes connections and loses memory state)")
	lambdaInstances := fs.Int("lambda-instances", lambdaruntime.DefaultMaxInstances, "with -runtime local or lambda: the most instances running at once")
	lambdaTimeout := fs.Duration("lambda-timeout", lambdaruntime.DefaultTimeout, "with -runtime local or lambda: the function timeout; an invocation still running then fails and its instance is killed")
	web := fs.String("web", "", "a directory of static pages served outside the stage path, such as the chat example's page; default DIR/web when it exists")
	anySignature := fs.Bool("any-signature", false, "accept any SigV4-shaped @connections request without verifying its signature, for tools that cannot sign; by default a request must be signed with access key \""+emulator.DefaultAccessKeyID+"\" and secret \""+emulator.DefaultSecretAccessKey+"\", as the app's own clients and mullet post are")
	apiKeys := fs.String("api-keys", "", "for an app that requires API keys on $connect: a JSON file of the keys it accepts, [{\"name\":\"tenant-a\",\"value\":\"x-api-key value, 20-128 characters\",\"plan\":\"free\"}, ...]")
	withDashboard := fs.Bool("dashboard", true, "with -runtime local or lambda: serve the live dashboard (connections, groups, barriers, sessions, invocations, traces) at http://ADDR"+dashboard.DefaultPath+" to loopback clients, and receive the instances' spans over OTLP on 127.0.0.1")
	lambdaStats := fs.Duration("lambda-stats", 30*time.Second, "with -runtime local or lambda: how often to print the instances' latency line (when there were invocations); 0 never")
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "mullet dev: missing DIR, the directory of the app's main package; e.g. mullet dev ./examples/chat\n")
		return 2
	}
	dir := fs.Arg(0)
	sc := storeConfig{kind: *storeKind, endpoint: *endpoint, table: *table}
	switch *storeKind {
	case "memory":
		if *table != "" || *endpoint != "" {
			fmt.Fprintf(stderr, "mullet dev: -table and -dynamodb-endpoint need -store dynamodb\n")
			return 2
		}
	case "dynamodb":
		if *endpoint != "" && *table == "" {
			fmt.Fprintf(stderr, "mullet dev: -store dynamodb -dynamodb-endpoint %s needs -table NAME (a table with keys pk/sk and TTL attribute ttl); without -dynamodb-endpoint mullet dev starts dynalite and creates the table itself\n", *endpoint)
			return 2
		}
		if sc.table == "" {
			sc.table = defaultDevTable
		}
	default:
		fmt.Fprintf(stderr, "mullet dev: -store %q: use memory or dynamodb\n", *storeKind)
		return 2
	}
	if *poll <= 0 || *debounce < 0 {
		fmt.Fprintf(stderr, "mullet dev: -poll must be positive and -debounce not negative\n")
		return 2
	}
	webDir, err := pagesDir(dir, *web)
	if err != nil {
		fmt.Fprintf(stderr, "mullet dev: %v\n", err)
		return 2
	}
	var keys []emulator.APIKey
	var keysFile string
	if *apiKeys != "" {
		// Read now, so that a bad file is a clear startup error.
		var err error
		if keys, err = local.ReadAPIKeys(*apiKeys); err != nil {
			fmt.Fprintf(stderr, "mullet dev: -api-keys: %v\n", err)
			return 2
		}
		if keysFile, err = filepath.Abs(*apiKeys); err != nil {
			fmt.Fprintf(stderr, "mullet dev: -api-keys: %v\n", err)
			return 2
		}
	}
	d := &devLoop{dir: dir, webDir: webDir, addr: *addr, stage: *stage, poll: *poll, debounce: *debounce, store: sc, anySignature: *anySignature, apiKeys: keys, apiKeysFile: keysFile, noDashboard: !*withDashboard, stdout: stdout, stderr: stderr}
	switch *runtimeKind {
	case runtimeInProcess:
	case runtimeLocal, runtimeLambda:
		if *runtimeKind == runtimeLambda && *storeKind != "dynamodb" {
			fmt.Fprintf(stderr, "mullet dev: -runtime lambda needs -store dynamodb: the AWS Lambda build (-tags lambda.norpc) leaves out the client of mullet dev's in-memory store, so state must live in a table every instance reaches (-store dynamodb alone starts dynalite); or drop -runtime lambda to run the local build against mullet dev's memory\n")
			return 2
		}
		if *lambdaInstances < 1 || *lambdaTimeout <= 0 || *lambdaStats < 0 {
			fmt.Fprintf(stderr, "mullet dev: -lambda-instances and -lambda-timeout must be positive, -lambda-stats not negative\n")
			return 2
		}
		d.instances = &instancesDev{awsBuild: *runtimeKind == runtimeLambda, max: *lambdaInstances, timeout: *lambdaTimeout, statsEvery: *lambdaStats}
	default:
		fmt.Fprintf(stderr, "mullet dev: -runtime %q: use local, lambda or inprocess\n", *runtimeKind)
		return 2
	}
	if err := d.run(ctx); err != nil {
		fmt.Fprintf(stderr, "mullet dev: %v\n", err)
		return 1
	}
	return 0
}

type devLoop struct {
	dir, addr, stage string
	webDir           string // static pages; "" serves none
	poll, debounce   time.Duration
	store            storeConfig
	anySignature     bool              // -any-signature
	apiKeys          []emulator.APIKey // -api-keys
	apiKeysFile      string            // -api-keys, absolute: the in-process app reads it
	stdout, stderr   io.Writer
	instances        *instancesDev // nil: -runtime inprocess
	noDashboard      bool          // -dashboard=false
	dash             *devDashboard // nil: none (-dashboard=false, -runtime inprocess)

	tmp  string
	env  []string // -runtime inprocess: the app's variables
	proc *exec.Cmd
	done chan error
}

func (d *devLoop) run(ctx context.Context) error {
	info, err := os.Stat(d.dir)
	if err != nil {
		return fmt.Errorf("DIR %s: %w", d.dir, errors.Unwrap(err))
	}
	if !info.IsDir() {
		return fmt.Errorf("DIR %s is a file; give the directory of the app's main package", d.dir)
	}
	if err := checkMainPackage(ctx, d.dir); err != nil {
		return err
	}
	if err := checkPortFree(d.addr); err != nil {
		return err
	}
	d.tmp, err = os.MkdirTemp("", "mullet-dev-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(d.tmp)

	// The store (a dynalite to start, a table to check) gets ready while
	// the first build runs.
	st := startStore(ctx, d.store, d.dir, d.instances == nil)
	defer st.close()
	if d.instances != nil {
		return d.runInstances(ctx, st)
	}
	return d.runInProcess(ctx, st)
}

// runInProcess is run for -runtime inprocess: the app's process serves
// the emulator itself, and a new build replaces that process.
func (d *devLoop) runInProcess(ctx context.Context, st *pendingStore) error {
	// The snapshot is taken before the first build, so that a change made
	// during it is built too.
	last, err := snapshot(d.dir)
	if err != nil {
		return err
	}
	bin, err := d.build(ctx, 0)
	if err != nil {
		return fmt.Errorf("first build failed; fix it and run mullet dev again:\n%v", err)
	}
	backend, err := st.wait()
	if err != nil {
		return err
	}
	d.env = backend.processEnv
	if d.webDir != "" {
		d.env = append(d.env, runtimeenv.WebDir+"="+d.webDir)
	}
	if d.anySignature {
		d.env = append(d.env, runtimeenv.AnySignature+"=1")
	}
	if d.apiKeysFile != "" {
		d.env = append(d.env, runtimeenv.APIKeys+"="+d.apiKeysFile)
	}
	if err := d.start(bin); err != nil {
		return err
	}
	defer d.stop()

	w := &watcher{snapshot: func() (string, error) { return snapshot(d.dir) }, poll: d.poll, quiet: d.debounce}
	changes := make(chan change, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go w.watch(watchCtx, last, changes)
	for n := 1; ; {
		var ch change
		select {
		case <-ctx.Done():
			return nil
		case err := <-d.done:
			d.done = nil
			fmt.Fprintf(d.stderr, "mullet dev: the app exited (%v); waiting for a change to rebuild\n", describeExit(err))
			continue
		case ch = <-changes:
		}
		if ch.err != nil {
			return ch.err
		}
		next, took, ok := rebuild(ctx, d, ch, func() (string, error) { return d.build(ctx, n) })
		n++
		if ctx.Err() != nil {
			return nil
		}
		if !ok {
			continue
		}
		fmt.Fprintf(d.stderr, "mullet dev: built in %v; restarting the app (-runtime inprocess: connections close)\n", took)
		d.stop()
		if err := d.start(next); err != nil {
			return err
		}
	}
}

// localGOGC is the GOGC of an app mullet dev runs, unless GOGC is set.
const localGOGC = "400"

func (d *devLoop) build(ctx context.Context, n int) (string, error) {
	abs, err := filepath.Abs(filepath.Join(d.tmp, fmt.Sprintf("app-%d", n)))
	if err != nil {
		return "", err
	}
	if err := bootstrap.Build(ctx, d.dir, abs, &bootstrap.Options{Local: true}); err != nil {
		return "", compilerOutput(err)
	}
	return abs, nil
}

// compilerOutput is the compiler's output in a failed build's error, which
// is all a developer needs to see, or err itself.
func compilerOutput(err error) error {
	if _, out, ok := strings.Cut(err.Error(), "failed:\n"); ok {
		return errors.New(out)
	}
	return err
}

// pagesDir is the directory of static pages mullet dev serves: flag if
// set, else DIR/web when it exists, else none.
func pagesDir(dir, flag string) (string, error) {
	if flag == "" {
		if fi, err := os.Stat(filepath.Join(dir, "web")); err != nil || !fi.IsDir() {
			return "", nil
		}
		flag = filepath.Join(dir, "web")
	}
	abs, err := filepath.Abs(flag)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("-web %s: not a directory of pages to serve", flag)
	}
	return abs, nil
}

func (d *devLoop) start(bin string) error {
	cmd := exec.Command(bin)
	cmd.Dir = d.dir
	cmd.Env = append(append(os.Environ(), runtimeenv.Addr+"="+d.addr, runtimeenv.Stage+"="+d.stage), d.env...)
	if os.Getenv("GOGC") == "" {
		// Every push goes through the real SDK client and HTTP, which
		// allocate ~30 KB per call against a small live heap; collecting
		// less often cuts the local server's CPU per push by about a fifth
		// (docs/benchmarks.md, push echo). The process that starts the
		// server decides; GOGC in mullet dev's environment still wins.
		cmd.Env = append(cmd.Env, "GOGC="+localGOGC)
	}
	cmd.Stdout, cmd.Stderr = d.stdout, d.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	d.proc = cmd
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	d.done = done
	return nil
}

// stop ends the running app: SIGTERM, then SIGKILL after 5 seconds.
func (d *devLoop) stop() {
	if d.proc == nil || d.done == nil {
		d.proc = nil
		return
	}
	stopGroup(d.proc.Process.Pid, d.done)
	d.proc, d.done = nil, nil
}

// stopGroup ends the process group of pid: SIGTERM, then SIGKILL after 5
// seconds; done is closed or sent to when the process has exited.
func stopGroup[T any](pid int, done <-chan T) {
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}

func describeExit(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

func checkMainPackage(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, "go", "list", "-f", "{{.Name}}", ".")
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if strings.Contains(msg, "go.mod file not found") {
			return fmt.Errorf("DIR %s is not inside a Go module; run 'go mod init' there (or create the project with mullet new)", dir)
		}
		if strings.Contains(msg, "no Go files") {
			return fmt.Errorf("DIR %s has no Go files; give the directory of the app's main package", dir)
		}
		return fmt.Errorf("DIR %s: go list: %s", dir, msg)
	}
	if name := strings.TrimSpace(out.String()); name != "main" {
		return fmt.Errorf("DIR %s holds package %q, not a main package; give the directory with func main (it calls mullet.Main)", dir, name)
	}
	return nil
}

func checkPortFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("address %s is already in use; stop the other server or pass another -addr, e.g. -addr 127.0.0.1:8081", addr)
		}
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	return ln.Close()
}

// snapshot summarizes the .go files under dir (names, sizes, mtimes) so
// that any change gives a different string.
func snapshot(dir string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := e.Name()
		if e.IsDir() {
			if path != dir && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "cdk.out" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !watched(name) {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil
		}
		fmt.Fprintf(&b, "%s %d %d\n", path, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return b.String(), err
}

// watched reports whether a change to the file should rebuild the app: Go
// sources and module files, and the web files apps commonly embed.
func watched(name string) bool {
	switch filepath.Ext(name) {
	case ".go", ".html", ".js", ".css":
		return true
	}
	return name == "go.mod" || name == "go.sum"
}

// rebuild reports a change and runs build. A failed build is reported and
// ok is false: the last good build keeps serving.
func rebuild[T any](ctx context.Context, d *devLoop, ch change, build func() (T, error)) (next T, took time.Duration, ok bool) {
	fmt.Fprintf(d.stderr, "mullet dev: %s changed; rebuilding\n", describeChange(d.dir, ch.files))
	start := time.Now()
	next, err := build()
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(d.stderr, "mullet dev: build failed; still serving the last good build\n%v\n", err)
		}
		return next, 0, false
	}
	return next, time.Since(start).Round(10 * time.Millisecond), true
}
