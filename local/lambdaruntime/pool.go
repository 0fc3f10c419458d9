package lambdaruntime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Defaults of Options.
const (
	// DefaultMaxInstances bounds the instances of a pool.
	DefaultMaxInstances = 10
	// DefaultTimeout is the function timeout: API Gateway's integration
	// timeout, past which its caller gets an error anyway.
	DefaultTimeout = 29 * time.Second
	// DefaultInitTimeout is Lambda's limit on the init phase of an
	// on-demand function.
	DefaultInitTimeout = 10 * time.Second
	// DefaultIdleTimeout is how long an instance may stay idle before it
	// is stopped. Lambda keeps idle environments for minutes, unspecified.
	DefaultIdleTimeout = 5 * time.Minute
	// DefaultMemorySize is the memory size in MiB the instances are told
	// (AWS_LAMBDA_FUNCTION_MEMORY_SIZE), infra's default. It is not
	// enforced.
	DefaultMemorySize = 256
	// DefaultRegion is AWS_REGION of the instances.
	DefaultRegion = "us-east-1"
	// DefaultFunctionName is AWS_LAMBDA_FUNCTION_NAME of the instances.
	DefaultFunctionName = "mullet-local"
	// MaxResponseSize is Lambda's quota on a synchronous invocation's
	// response in bytes, as its error message states it.
	MaxResponseSize = 6291556
)

// Options configures a Pool. NewPool does not modify or retain the caller's
// Options; zero values mean defaults.
type Options struct {
	// Bootstrap is the path of the function's executable, built for the
	// local OS and architecture (see Build). Required.
	Bootstrap string
	// Dir is the instances' working directory. Default: the directory of
	// Bootstrap, as Lambda runs a bootstrap in /var/task.
	Dir string
	// Env is added to every instance's environment, after (and so
	// overriding) the variables Lambda sets. Instances inherit nothing else
	// of this process's environment but PATH.
	Env []string
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME and part of the invoked
	// function ARN. Default DefaultFunctionName.
	FunctionName string
	// MemorySize is AWS_LAMBDA_FUNCTION_MEMORY_SIZE in MiB. Default
	// DefaultMemorySize.
	MemorySize int
	// Region is AWS_REGION and AWS_DEFAULT_REGION. Default DefaultRegion.
	Region string
	// Timeout is the function timeout: each event's deadline
	// (Lambda-Runtime-Deadline-Ms) is this long after its delivery, and an
	// instance still busy with it then is killed. It also bounds how long
	// Invoke waits for a busy pool. Default DefaultTimeout.
	Timeout time.Duration
	// InitTimeout bounds a new instance's initialization: the time from
	// starting the process to its first poll. Default DefaultInitTimeout.
	InitTimeout time.Duration
	// IdleTimeout stops an instance idle for this long. Default
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxInstances bounds how many instances run at once. When all are
	// busy, Invoke waits for one. Default DefaultMaxInstances.
	MaxInstances int
	// Output receives the instances' stdout and stderr, line by line, each
	// line prefixed with the instance's number ("λ3 | "). nil discards
	// them.
	Output io.Writer
	// Logger receives the pool's events: each cold start with its init
	// duration and latency (Info), instances that failed, timed out or
	// exited (Warn), instances stopped for idleness (Debug). nil discards
	// them.
	Logger *slog.Logger
}

// Pool runs instances of a function's bootstrap and invokes them. Create it
// with NewPool; it is safe for concurrent use. Close it to stop every
// instance.
type Pool struct {
	o      Options
	env    []string // every instance's environment but AWS_LAMBDA_RUNTIME_API
	arn    string
	log    *slog.Logger
	output *lockedWriter // nil: discard

	mu        sync.Mutex
	closed    bool
	seq       int                // instances started, for numbering
	live      int                // instances counting toward MaxInstances
	instances map[*instance]bool // instances whose process may still run
	idle      []*instance        // polling with nothing to do; most recently used last
	waiters   []*waiter          // Invoke calls waiting for an instance, oldest first
	stats     stats

	instWG     sync.WaitGroup // one per instance, done when it is cleaned up
	reaperStop chan struct{}
	reaperDone chan struct{}
}

// waiter is an invocation waiting for a busy pool. The pool assigns it to
// an instance that becomes idle, or grants it a new instance, and then
// closes ready.
type waiter struct {
	inv   *invocation
	start bool // granted: start a new instance (live already counts it)
	ready chan struct{}
}

// NewPool checks opts and returns a pool. No instance starts before the
// first invocation.
func NewPool(opts *Options) (*Pool, error) {
	if opts == nil || opts.Bootstrap == "" {
		return nil, errors.New("lambdaruntime: Options.Bootstrap is required: the path of the function's executable (see Build)")
	}
	o := *opts
	o.Env = slices.Clone(o.Env)
	bin, err := filepath.Abs(o.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("lambdaruntime: bootstrap %s: %w", o.Bootstrap, err)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return nil, fmt.Errorf("lambdaruntime: bootstrap: %w", err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("lambdaruntime: bootstrap %s is not an executable file", bin)
	}
	o.Bootstrap = bin
	if o.Dir == "" {
		o.Dir = filepath.Dir(bin)
	}
	if o.FunctionName == "" {
		o.FunctionName = DefaultFunctionName
	}
	if o.MemorySize <= 0 {
		o.MemorySize = DefaultMemorySize
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.InitTimeout <= 0 {
		o.InitTimeout = DefaultInitTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = DefaultMaxInstances
	}
	p := &Pool{
		o:          o,
		arn:        "arn:aws:lambda:" + o.Region + ":000000000000:function:" + o.FunctionName,
		log:        o.Logger,
		instances:  make(map[*instance]bool),
		reaperStop: make(chan struct{}),
		reaperDone: make(chan struct{}),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if o.Output != nil {
		p.output = &lockedWriter{w: o.Output}
	}
	p.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"_HANDLER=bootstrap",
		"LAMBDA_TASK_ROOT=" + o.Dir,
		"AWS_LAMBDA_FUNCTION_NAME=" + o.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(o.MemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + o.FunctionName,
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_REGION=" + o.Region,
		"AWS_DEFAULT_REGION=" + o.Region,
		// Placeholders: what a handler signs with them is only accepted by
		// local servers (the emulator's @connections, dynalite).
		"AWS_ACCESS_KEY_ID=ASIALOCALLAMBDA00000",
		"AWS_SECRET_ACCESS_KEY=local-lambda-secret-access-key",
		"AWS_SESSION_TOKEN=local-lambda-session-token",
	}
	p.env = append(p.env, o.Env...)
	go p.reap()
	return p, nil
}

// Request is one event for InvokeRaw.
type Request struct {
	// Payload is the event, JSON.
	Payload []byte
	// ClientContext, if not empty, is sent as Lambda-Runtime-Client-Context
	// (JSON, as the Invoke API's decoded ClientContext).
	ClientContext string
	// CognitoIdentity, if not empty, is sent as
	// Lambda-Runtime-Cognito-Identity (JSON).
	CognitoIdentity string
}

// Invoke invokes the function with an API Gateway WebSocket event and
// decodes its proxy response. It has the shape of emulator.InvokeFunc.
// Failures of the function are *FunctionError. A response that is not a
// valid Lambda proxy response is a *MalformedResponseError, as API Gateway
// fails such an integration ("Execution failed due to configuration error:
// Malformed Lambda proxy response") and sends the client its "Internal
// server error" frame: see CheckProxyResponse for the shape it checks.
func (p *Pool) Invoke(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	payload, err := encodeEvent(event)
	if err != nil {
		return events.APIGatewayProxyResponse{}, fmt.Errorf("lambdaruntime: encode event: %w", err)
	}
	out, err := p.InvokeRaw(ctx, &Request{Payload: payload})
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return DecodeProxyResponse(out)
}

// InvokeRaw invokes the function with req and returns the response payload
// as the runtime posted it. It hands the event to an idle instance, or
// starts a new one if none is idle and fewer than MaxInstances run, or else
// waits up to Timeout for one to become idle. If ctx ends first, InvokeRaw
// returns ctx.Err() at once, while the instance goes on with the event
// until it answers or its deadline kills it, as in Lambda.
func (p *Pool) InvokeRaw(ctx context.Context, req *Request) ([]byte, error) {
	start := time.Now()
	inv := &invocation{
		id:              newRequestID(),
		payload:         req.Payload,
		clientContext:   req.ClientContext,
		cognitoIdentity: req.CognitoIdentity,
		result:          make(chan outcome, 1),
	}
	inst, err := p.assign(ctx, inv)
	if err != nil {
		p.mu.Lock()
		p.stats.record(false, 0, true)
		p.mu.Unlock()
		return nil, err
	}
	var out outcome
	select {
	case out = <-inv.result:
	case <-ctx.Done():
		// The caller gave up (API Gateway's integration timeout); the
		// instance carries on until it answers or its deadline kills it.
		p.mu.Lock()
		p.stats.record(false, 0, true)
		p.mu.Unlock()
		return nil, ctx.Err()
	}
	d := time.Since(start)
	p.mu.Lock()
	p.stats.record(inv.cold, d, out.err != nil)
	initDur := inst.initDuration
	p.mu.Unlock()
	if inv.cold && out.err == nil {
		p.log.LogAttrs(ctx, slog.LevelInfo, "lambda cold start",
			slog.Int("instance", inst.n), slog.Duration("init", initDur.Round(time.Microsecond)),
			slog.Duration("latency", d.Round(time.Microsecond)))
	}
	return out.body, out.err
}

// assign gives inv to an idle instance, to a new one, or to the first that
// becomes available within Timeout.
func (p *Pool) assign(ctx context.Context, inv *invocation) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		inst.hand(inv)
		p.mu.Unlock()
		return inst, nil
	}
	// Each instance that has just answered will be free for one waiter.
	finishing := p.finishingLocked() > len(p.waiters)
	if p.live < p.o.MaxInstances && !finishing {
		p.live++
		p.mu.Unlock()
		return p.startWith(inv)
	}
	w := &waiter{inv: inv, ready: make(chan struct{})}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()

	timer := time.NewTimer(p.o.Timeout)
	defer timer.Stop()
	// An instance that has just answered polls for its next event within
	// microseconds: wait that long for it rather than starting another,
	// which a caller sending its next message right after an answer would
	// otherwise do every time.
	var grace <-chan time.Time
	if finishing {
		gt := time.NewTimer(finishGrace)
		defer gt.Stop()
		grace = gt.C
	}
	var err error
wait:
	for {
		select {
		case <-w.ready:
			break wait
		case <-ctx.Done():
			err = ctx.Err()
			break wait
		case <-timer.C:
			err = ErrBusy
			break wait
		case <-grace:
			grace = nil
			p.mu.Lock()
			if i := slices.Index(p.waiters, w); i >= 0 && p.live < p.o.MaxInstances && !p.closed {
				p.waiters = slices.Delete(p.waiters, i, i+1)
				p.live++
				p.mu.Unlock()
				return p.startWith(inv)
			}
			p.mu.Unlock()
		}
	}
	p.mu.Lock()
	if i := slices.Index(p.waiters, w); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		p.mu.Unlock()
		return nil, err
	}
	// Served (or failed by Close) before we could leave the queue.
	closed := p.closed && !w.start && inv.inst == nil
	p.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case w.start:
		return p.startWith(inv)
	}
	return inv.inst, nil
}

// finishGrace is how long an invocation waits for an instance that has
// answered but not yet polled again before it starts a new instance.
const finishGrace = 100 * time.Millisecond

// finishingLocked counts the instances that have answered their event and
// not yet polled for the next. p.mu is held.
func (p *Pool) finishingLocked() int {
	n := 0
	for inst := range p.instances {
		if inst.cur != nil && inst.cur.answered && !inst.dead && inst.stopping == stopNone {
			n++
		}
	}
	return n
}

// startWith starts a new instance that will receive inv as its first event.
// The caller has counted it in p.live.
func (p *Pool) startWith(inv *invocation) (*instance, error) {
	inv.cold = true
	inst, err := p.start(inv)
	if err != nil {
		p.mu.Lock()
		p.live--
		p.grantLocked()
		p.mu.Unlock()
		return nil, err
	}
	return inst, nil
}

// release makes inst available to the next invocation: a waiting one, or
// the idle list. p.mu is held.
func (p *Pool) releaseLocked(inst *instance) {
	if p.closed || inst.dead {
		return
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		inst.hand(w.inv)
		close(w.ready)
		return
	}
	inst.idleSince = time.Now()
	p.idle = append(p.idle, inst)
}

// grantLocked lets the oldest waiter start a new instance if there is room.
// p.mu is held.
func (p *Pool) grantLocked() {
	if p.closed || len(p.waiters) == 0 || p.live >= p.o.MaxInstances {
		return
	}
	w := p.waiters[0]
	p.waiters = p.waiters[1:]
	p.live++
	w.start = true
	close(w.ready)
}

// removeIdleLocked takes inst off the idle list. p.mu is held.
func (p *Pool) removeIdleLocked(inst *instance) {
	if i := slices.Index(p.idle, inst); i >= 0 {
		p.idle = slices.Delete(p.idle, i, i+1)
	}
}

// reap stops instances idle for longer than IdleTimeout.
func (p *Pool) reap() {
	defer close(p.reaperDone)
	tick := min(max(p.o.IdleTimeout/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-p.reaperStop:
			return
		case <-t.C:
		}
		var stale []*instance
		p.mu.Lock()
		now := time.Now()
		for _, inst := range slices.Clone(p.idle) {
			if now.Sub(inst.idleSince) >= p.o.IdleTimeout {
				p.removeIdleLocked(inst)
				inst.stopping = stopIdle
				stale = append(stale, inst)
			}
		}
		p.mu.Unlock()
		for _, inst := range stale {
			inst.kill()
		}
	}
}

// Close stops every instance at once and waits for them to exit. Events
// not yet delivered, and every later Invoke, fail with ErrClosed; events
// being handled fail with a *FunctionError of type ErrorTypeExit.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closeLocked()
	p.idle = nil
	var all []*instance
	for inst := range p.instances {
		if inst.stopping == stopNone {
			inst.stopping = stopClosed
		}
		all = append(all, inst)
	}
	p.mu.Unlock()
	for _, inst := range all {
		inst.kill()
	}
	p.instWG.Wait()
	<-p.reaperDone
	return nil
}

// closeLocked marks the pool closed: the reaper stops, and callers waiting
// for an instance are woken to find it closed. p.mu is held.
func (p *Pool) closeLocked() {
	if !p.closed {
		p.closed = true
		close(p.reaperStop)
	}
	for _, w := range p.waiters {
		close(w.ready)
	}
	p.waiters = nil
}

// Shutdown stops handing out events, waits until running invocations have
// finished or ctx ends, and then closes the pool. It is how a pool makes way
// for a new build of the function.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closeLocked()
	p.mu.Unlock()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var err error
wait:
	for p.busy() {
		select {
		case <-ctx.Done():
			err = ctx.Err()
			break wait
		case <-t.C:
		}
	}
	p.Close()
	return err
}

// busy reports whether an instance has an event in hand.
func (p *Pool) busy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for inst := range p.instances {
		if inst.pending != nil || (inst.cur != nil && !inst.cur.answered) {
			return true
		}
	}
	return false
}

// outcome is the result of an invocation.
type outcome struct {
	body []byte
	err  error
}

// invocation is one event on its way through an instance.
type invocation struct {
	id              string
	payload         []byte
	clientContext   string
	cognitoIdentity string
	result          chan outcome // buffered; receives exactly one outcome

	// Guarded by Pool.mu.
	inst     *instance
	cold     bool
	answered bool // the runtime posted a response or error
	finished bool // result has its outcome
}

// finishLocked delivers the invocation's outcome once. Pool.mu is held.
func (inv *invocation) finishLocked(out outcome) {
	if inv.finished {
		return
	}
	inv.finished = true
	inv.result <- out
}

// newRequestID returns a request ID of Lambda's shape, a random UUID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newTraceID returns an X-Ray trace header of Lambda's shape, not sampled.
func newTraceID(now time.Time) string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return "Root=1-" + strconv.FormatInt(now.Unix(), 16) + "-" + h[:24] + ";Parent=" + h[24:40] + ";Sampled=0"
}

// encodeEvent encodes an event as API Gateway sends it. aws-lambda-go's
// identity.userAgent has no omitempty, but API Gateway leaves the key out
// when the client sent no User-Agent: an empty one is dropped here, so that
// a handler reading the raw JSON sees what it would see in AWS. Only
// requestContext holds an object under "identity" (header and query values
// are strings or arrays, and the body is an escaped string).
func encodeEvent(event *events.APIGatewayWebsocketProxyRequest) ([]byte, error) {
	payload, err := json.Marshal(event)
	if err != nil || event.RequestContext.Identity.UserAgent != "" {
		return payload, err
	}
	i := bytes.Index(payload, []byte(`"identity":{`))
	if i < 0 {
		return payload, nil
	}
	end := i + bytes.IndexByte(payload[i:], '}')
	const empty = `,"userAgent":""`
	if j := bytes.Index(payload[i:end], []byte(empty)); j >= 0 {
		payload = append(payload[:i+j], payload[i+j+len(empty):]...)
	}
	return payload, nil
}
