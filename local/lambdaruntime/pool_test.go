package lambdaruntime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	appbuild "github.com/mulletgo/mullet/bootstrap"
	"github.com/mulletgo/mullet/internal/syncbuf"
	"github.com/mulletgo/mullet/local/lambdaruntime"
)

// bootstrap is testdata/function, built once by TestMain.
var bootstrap string

func TestMain(m *testing.M) {
	if mode := os.Getenv(rawModeEnv); mode != "" {
		rawRuntime(mode)
		return
	}
	dir, err := os.MkdirTemp("", "lambdaruntime-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bootstrap = filepath.Join(dir, "bootstrap")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	err = appbuild.Build(ctx, "testdata/function", bootstrap, nil)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// info is what testdata/function answers.
type info struct {
	PID             int
	RequestID       string
	FunctionARN     string
	DeadlineMs      int64
	ClientContext   map[string]string
	CognitoIdentity string
	TraceID         string
	Body            string
	Env             map[string]string
}

type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newPool returns a pool of testdata/function (unless opts names another
// bootstrap) that closes when the test ends, and the instances' output.
func newPool(t *testing.T, opts lambdaruntime.Options) (*lambdaruntime.Pool, *syncbuf.Buffer) {
	t.Helper()
	if opts.Bootstrap == "" {
		opts.Bootstrap = bootstrap
	}
	out := &syncbuf.Buffer{}
	opts.Output = out
	if opts.Logger == nil {
		opts.Logger = slogTo(t)
	}
	p, err := lambdaruntime.NewPool(&opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { p.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("Close did not return within 15s")
		}
		if t.Failed() {
			t.Logf("instances' output:\n%s", out)
		}
	})
	return p, out
}

// call invokes the pool with a message event whose body is body.
func call(t *testing.T, p *lambdaruntime.Pool, body string) (info, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := p.Invoke(ctx, &events.APIGatewayWebsocketProxyRequest{
		Body: body,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: "$default", EventType: "MESSAGE", ConnectionID: "Zw6VnDsn7eG6En0=",
		},
	})
	if err != nil {
		return info{}, err
	}
	var got info
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, body %s", resp.StatusCode, resp.Body)
	}
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatalf("response body %q: %v", resp.Body, err)
	}
	return got, nil
}

func mustCall(t *testing.T, p *lambdaruntime.Pool, body string) info {
	t.Helper()
	got, err := call(t, p, body)
	if err != nil {
		t.Fatalf("invoke %q: %v", body, err)
	}
	return got
}

// functionError asserts that err is a *FunctionError of the given type.
func functionError(t *testing.T, err error, typ string) *lambdaruntime.FunctionError {
	t.Helper()
	var fe *lambdaruntime.FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want a *FunctionError of type %s", err, err, typ)
	}
	if fe.Type != typ {
		t.Fatalf("error type %q (%v), want %q", fe.Type, fe, typ)
	}
	return fe
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var requestIDShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestColdThenWarm(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{
		FunctionName: "chat", MemorySize: 512, Timeout: 3 * time.Second,
		Env: []string{"EXTRA=from Options.Env", "TZ=:UTC"},
	})
	before := time.Now()
	first := mustCall(t, p, "hello")
	if first.Body != "hello" {
		t.Fatalf("the function got body %q", first.Body)
	}
	if !requestIDShape.MatchString(first.RequestID) {
		t.Errorf("request ID %q is not a UUID", first.RequestID)
	}
	if want := "arn:aws:lambda:us-east-1:000000000000:function:chat"; first.FunctionARN != want {
		t.Errorf("function ARN %q, want %q", first.FunctionARN, want)
	}
	deadline := time.UnixMilli(first.DeadlineMs)
	if d := deadline.Sub(before); d < 2900*time.Millisecond || d > 4*time.Second {
		t.Errorf("deadline %v after the call, want about the 3s timeout", d)
	}
	if !strings.HasPrefix(first.TraceID, "Root=1-") {
		t.Errorf("trace ID %q", first.TraceID)
	}
	for k, want := range map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": "chat", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_REGION": "us-east-1",
		"EXTRA": "from Options.Env", "HOME": "", "TZ": ":UTC",
	} {
		if got := first.Env[k]; got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		if first.Env[k] == "" {
			t.Errorf("%s is not set", k)
		}
	}

	second := mustCall(t, p, "again")
	if second.PID != first.PID {
		t.Errorf("the second invocation ran in process %d, not in the warm %d", second.PID, first.PID)
	}
	if second.RequestID == first.RequestID {
		t.Errorf("both invocations have request ID %s", first.RequestID)
	}
	// The instance is idle once it polls again, right after answering.
	waitFor(t, "the instance to poll again", 5*time.Second, func() bool { return p.Stats().Idle == 1 })
	st := p.Stats()
	if st.Started != 1 || st.Running != 1 || st.Idle != 1 || st.Invocations != 2 || st.Cold.Count != 1 || st.Warm.Count != 1 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestHandlerError(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{})
	first := mustCall(t, p, "hi")
	_, err := call(t, p, "error")
	fe := functionError(t, err, "errorString")
	if fe.Message != "handler failed" || fe.Init {
		t.Errorf("error %+v", fe)
	}
	// A returned error leaves the instance warm.
	if again := mustCall(t, p, "hi"); again.PID != first.PID {
		t.Errorf("after a handler error the next invocation ran in a new process")
	}
	if st := p.Stats(); st.Started != 1 || st.Errors != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestHandlerPanic(t *testing.T) {
	p, out := newPool(t, lambdaruntime.Options{})
	first := mustCall(t, p, "hi")
	_, err := call(t, p, "panic")
	fe := functionError(t, err, "string")
	if fe.Message != "boom" || fe.Init || fe.Instance != 1 {
		t.Errorf("error %+v", fe)
	}
	// aws-lambda-go exits after reporting a panic; the next invocation
	// gets a new instance.
	again := mustCall(t, p, "hi")
	if again.PID == first.PID {
		t.Errorf("after a panic the next invocation ran in the same process")
	}
	if st := p.Stats(); st.Started != 2 {
		t.Errorf("stats %+v, want 2 instances started", st)
	}
	waitFor(t, "the panic in the output", 5*time.Second, func() bool {
		return strings.Contains(out.String(), `λ1 | `) && strings.Contains(out.String(), `"errorMessage":"boom"`)
	})
}

func TestExitDuringInvocation(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{})
	_, err := call(t, p, "exit")
	fe := functionError(t, err, lambdaruntime.ErrorTypeExit)
	if fe.Init || !strings.Contains(fe.Message, "exit status 4") {
		t.Errorf("error %+v", fe)
	}
	mustCall(t, p, "hi")
	if st := p.Stats(); st.Started != 2 {
		t.Errorf("stats %+v, want 2 instances started", st)
	}
}

func TestInitExit(t *testing.T) {
	p, out := newPool(t, lambdaruntime.Options{Env: []string{"TEST_INIT=exit"}})
	for i := range 2 {
		_, err := call(t, p, "hi")
		fe := functionError(t, err, lambdaruntime.ErrorTypeExit)
		if !fe.Init || !strings.Contains(fe.Message, "exit status 3") || fe.Instance != i+1 {
			t.Errorf("error %+v", fe)
		}
	}
	if !strings.Contains(out.String(), "λ1 | init: cannot start\n") {
		t.Errorf("output lacks the instance's prefixed stderr:\n%s", out)
	}
	if st := p.Stats(); st.Started != 2 || st.Running != 0 || st.Errors != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestInitError(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{Env: []string{"TEST_INIT=error"}})
	start := time.Now()
	_, err := call(t, p, "hi")
	fe := functionError(t, err, "Test.ConfigError")
	if !fe.Init || fe.Message != "no table configured" {
		t.Errorf("error %+v", fe)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the init error took %v to surface", d)
	}
	// The instance, which blocks after reporting, is killed.
	waitFor(t, "the instance to be stopped", 5*time.Second, func() bool { return p.Stats().Running == 0 })
}

func TestInitTimeout(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{Env: []string{"TEST_INIT=hang"}, InitTimeout: 300 * time.Millisecond})
	start := time.Now()
	_, err := call(t, p, "hi")
	fe := functionError(t, err, lambdaruntime.ErrorTypeTimeout)
	if !fe.Init {
		t.Errorf("error %+v", fe)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("the init timeout surfaced after %v", d)
	}
	waitFor(t, "the instance to be stopped", 5*time.Second, func() bool { return p.Stats().Running == 0 })
}

func TestDeadline(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{Timeout: 500 * time.Millisecond})
	first := mustCall(t, p, "hi")
	start := time.Now()
	_, err := call(t, p, "overrun")
	fe := functionError(t, err, lambdaruntime.ErrorTypeTimeout)
	if fe.Message != "Task timed out after 0.50 seconds" || fe.Init {
		t.Errorf("error %+v", fe)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 5*time.Second {
		t.Errorf("the timeout surfaced after %v", d)
	}
	// The instance was killed; the next invocation starts a new one.
	again := mustCall(t, p, "hi")
	if again.PID == first.PID {
		t.Errorf("the instance that timed out served again")
	}
	// The killed instance is reaped when its process has exited, which
	// can trail the next invocation's answer.
	st := p.Stats()
	for deadline := time.Now().Add(5 * time.Second); st.Running != 1 && time.Now().Before(deadline); st = p.Stats() {
		time.Sleep(10 * time.Millisecond)
	}
	if st.Started != 2 || st.Running != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestConcurrentInvocationsSpread: concurrent invocations start instances
// up to MaxInstances, later ones queue for them, and warm instances are
// reused.
func TestConcurrentInvocationsSpread(t *testing.T) {
	const max = 3
	p, _ := newPool(t, lambdaruntime.Options{MaxInstances: max})
	round := func(n int, body string) map[int]int {
		t.Helper()
		var mu sync.Mutex
		pids := map[int]int{}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				got, err := call(t, p, body)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				pids[got.PID]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return pids
	}
	first := round(max, "sleep:300ms")
	if len(first) != max {
		t.Fatalf("%d concurrent invocations ran in %d processes, want %d", max, len(first), max)
	}
	second := round(3*max, "sleep:100ms")
	for pid := range second {
		if first[pid] == 0 {
			t.Errorf("process %d was started for the second round, beyond MaxInstances", pid)
		}
	}
	st := p.Stats()
	if st.Started != max || st.Running != max || st.Cold.Count != max || st.Warm.Count != 3*max || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("cold p50 %v; warm p50 %v, p99 %v", st.Cold.P50, st.Warm.P50, st.Warm.P99)
}

func TestIdleInstancesAreStopped(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{IdleTimeout: 100 * time.Millisecond})
	first := mustCall(t, p, "hi")
	waitFor(t, "the idle instance to be stopped", 5*time.Second, func() bool { return p.Stats().Running == 0 })
	if again := mustCall(t, p, "hi"); again.PID == first.PID {
		t.Errorf("the stopped instance served again")
	}
	if st := p.Stats(); st.Started != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestResponseTooLarge(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{})
	_, err := call(t, p, "big")
	functionError(t, err, lambdaruntime.ErrorTypeResponseTooLarge)
}

func TestCallerGivesUp(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{MaxInstances: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.Invoke(ctx, &events.APIGatewayWebsocketProxyRequest{Body: "sleep:600ms"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's", err)
	}
	// The instance finishes its event, then serves the next one, which
	// queued for it meanwhile.
	start := time.Now()
	got := mustCall(t, p, "hi")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("the next invocation did not wait for the busy instance (%v)", d)
	}
	if st := p.Stats(); st.Started != 1 {
		t.Errorf("stats %+v; PID %d", st, got.PID)
	}
}

func TestClose(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{MaxInstances: 1})
	mustCall(t, p, "hi")
	errc := make(chan error, 2)
	for range 2 { // one runs, one queues
		go func() {
			_, err := call(t, p, "sleep:10s")
			errc <- err
		}()
	}
	waitFor(t, "the invocation to run", 5*time.Second, func() bool { return p.Stats().Idle == 0 })
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	p.Close()
	// The running one was killed; the queued one never ran.
	var killed, refused int
	for range 2 {
		err := <-errc
		var fe *lambdaruntime.FunctionError
		switch {
		case errors.Is(err, lambdaruntime.ErrClosed):
			refused++
		case errors.As(err, &fe) && fe.Type == lambdaruntime.ErrorTypeExit:
			killed++
		default:
			t.Errorf("invocation during Close: %v", err)
		}
	}
	if killed != 1 || refused != 1 {
		t.Errorf("%d invocations killed and %d refused, want 1 and 1", killed, refused)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if _, err := call(t, p, "hi"); !errors.Is(err, lambdaruntime.ErrClosed) {
		t.Errorf("invocation after Close: %v, want ErrClosed", err)
	}
	if st := p.Stats(); st.Running != 0 {
		t.Errorf("stats after Close %+v", st)
	}
}

func TestShutdownWaitsForInvocations(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{})
	errc := make(chan error, 1)
	go func() {
		_, err := call(t, p, "sleep:300ms")
		errc <- err
	}()
	waitFor(t, "the invocation to start", 5*time.Second, func() bool { return p.Stats().Started == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Errorf("the invocation running during Shutdown failed: %v", err)
	}
	if st := p.Stats(); st.Running != 0 {
		t.Errorf("stats after Shutdown %+v", st)
	}
}

func TestNewPoolErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("not a program"), 0o644)
	for _, tt := range []struct {
		name string
		opts *lambdaruntime.Options
		want string
	}{
		{"nil", nil, "Bootstrap is required"},
		{"missing", &lambdaruntime.Options{Bootstrap: filepath.Join(dir, "nope")}, "no such file"},
		{"directory", &lambdaruntime.Options{Bootstrap: dir}, "not an executable file"},
		{"not executable", &lambdaruntime.Options{Bootstrap: plain}, "not an executable file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lambdaruntime.NewPool(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}
