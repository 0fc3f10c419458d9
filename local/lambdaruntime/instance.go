package lambdaruntime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// stopReason says why the pool stopped an instance, so that its exit is
// reported for what it is.
type stopReason int

const (
	stopNone        stopReason = iota
	stopTimeout                // an invocation outlived its deadline
	stopInitTimeout            // no poll within InitTimeout
	stopInitError              // the runtime posted /init/error
	stopAbandoned              // the runtime dropped its poll for events
	stopIdle                   // idle for IdleTimeout
	stopClosed                 // the pool closed
)

// instance is one process of the bootstrap with its own Runtime API
// listener.
type instance struct {
	p       *Pool
	n       int // 1, 2, ... in order of starting
	ln      net.Listener
	srv     *http.Server
	procMu  sync.Mutex // held while starting the process and to kill it
	cmd     *exec.Cmd  // set once started
	out     *prefixWriter
	started time.Time
	wake    chan struct{} // buffered; signals a pending event to the poller
	exited  chan struct{} // closed once the process has exited

	// Guarded by Pool.mu.
	pending      *invocation   // handed over, not yet delivered
	cur          *invocation   // delivered; until the next poll
	deadline     *time.Timer   // cur's deadline
	initDone     bool          // the runtime polled once
	initDuration time.Duration // from start to the first poll
	initErr      *FunctionError
	idleSince    time.Time
	stopping     stopReason
	dead         bool
}

// hand makes inv the instance's next event. Pool.mu is held.
func (inst *instance) hand(inv *invocation) {
	inst.pending = inv
	inv.inst = inst
	select {
	case inst.wake <- struct{}{}:
	default:
	}
}

// start starts a new instance whose first event is inv.
func (p *Pool) start(inv *invocation) (*instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdaruntime: listen for the Runtime API: %w", err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		ln.Close()
		return nil, ErrClosed
	}
	p.seq++
	n := p.seq
	p.mu.Unlock()

	inst := &instance{
		p:      p,
		n:      n,
		ln:     ln,
		wake:   make(chan struct{}, 1),
		exited: make(chan struct{}),
	}
	inst.srv = &http.Server{
		Handler:           inst.runtimeAPI(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	cmd := exec.Command(p.o.Bootstrap)
	cmd.Dir = p.o.Dir
	cmd.Env = append(append(make([]string, 0, len(p.env)+2), p.env...),
		"AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(),
		"AWS_LAMBDA_LOG_STREAM_NAME="+time.Now().UTC().Format("2006/01/02")+"/[$LATEST]"+newRequestID()[:8]+strconv.Itoa(n))
	if p.output != nil {
		inst.out = &prefixWriter{w: p.output, prefix: "λ" + strconv.Itoa(n) + " | "}
		cmd.Stdout, cmd.Stderr = inst.out, inst.out
	}
	// Pipes to Output are copied until every holder of them closes; a
	// child the bootstrap left behind must not hold Wait forever.
	cmd.WaitDelay = time.Second
	setProcessGroup(cmd)

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		ln.Close()
		return nil, ErrClosed
	}
	inst.hand(inv)
	p.instances[inst] = true
	p.instWG.Add(1)
	p.mu.Unlock()
	inst.started = time.Now()
	go inst.srv.Serve(ln)
	inst.procMu.Lock()
	err = cmd.Start()
	if err == nil {
		inst.cmd = cmd
	}
	inst.procMu.Unlock()
	if err != nil {
		// No process: clean up as if it had exited at once, and report the
		// error to the caller rather than as the invocation's outcome.
		inst.srv.Close()
		p.mu.Lock()
		inst.dead = true
		inst.pending = nil
		inv.inst = nil
		inv.finished = true
		delete(p.instances, inst)
		p.mu.Unlock()
		p.instWG.Done()
		return nil, fmt.Errorf("lambdaruntime: start %s: %w", p.o.Bootstrap, err)
	}
	p.mu.Lock()
	p.stats.started++
	p.mu.Unlock()
	initTimer := time.AfterFunc(p.o.InitTimeout, inst.initTimedOut)
	go func() {
		err := cmd.Wait()
		initTimer.Stop()
		inst.exit(err)
	}()
	return inst, nil
}

// initTimedOut kills the instance if it has not polled yet.
func (inst *instance) initTimedOut() {
	p := inst.p
	p.mu.Lock()
	if inst.initDone || inst.dead || inst.stopping != stopNone {
		p.mu.Unlock()
		return
	}
	inst.stopping = stopInitTimeout
	p.mu.Unlock()
	p.log.Warn("lambda instance did not initialize in time; killing it", "instance", inst.n, "initTimeout", p.o.InitTimeout)
	inst.kill()
}

// deadlineExceeded kills the instance if inv is still its current event:
// the runtime neither answered nor polled again by the deadline.
func (inst *instance) deadlineExceeded(inv *invocation) {
	p := inst.p
	p.mu.Lock()
	if inst.cur != inv || inst.dead || inst.stopping != stopNone {
		p.mu.Unlock()
		return
	}
	inst.stopping = stopTimeout
	inv.finishLocked(outcome{err: &FunctionError{
		Type:     ErrorTypeTimeout,
		Message:  fmt.Sprintf("Task timed out after %.2f seconds", p.o.Timeout.Seconds()),
		Instance: inst.n,
	}})
	answered := inv.answered
	p.mu.Unlock()
	if answered {
		p.log.Warn("lambda instance answered but did not poll again before the deadline; killing it", "instance", inst.n, "requestId", inv.id)
	} else {
		p.log.Warn("lambda invocation timed out; killing its instance", "instance", inst.n, "requestId", inv.id, "timeout", p.o.Timeout)
	}
	inst.kill()
}

// kill ends the instance's process (and its process group).
func (inst *instance) kill() {
	inst.procMu.Lock()
	defer inst.procMu.Unlock()
	if inst.cmd != nil {
		killProcess(inst.cmd)
	}
}

// exit cleans up after the process exited: it fails the event the instance
// held, frees its place in the pool and closes its listener.
func (inst *instance) exit(waitErr error) {
	p := inst.p
	inst.srv.Close()
	if inst.out != nil {
		inst.out.flush()
	}
	p.mu.Lock()
	inst.dead = true
	close(inst.exited)
	if inst.deadline != nil {
		inst.deadline.Stop()
	}
	delete(p.instances, inst)
	p.removeIdleLocked(inst)
	p.live--
	failure := inst.failureLocked(waitErr)
	if inv := inst.pending; inv != nil {
		inst.pending = nil
		if inst.stopping == stopClosed {
			// Never delivered: it did not run.
			inv.finishLocked(outcome{err: ErrClosed})
		} else {
			inv.finishLocked(outcome{err: failure})
		}
	}
	if inv := inst.cur; inv != nil {
		inv.finishLocked(outcome{err: failure})
	}
	stopping := inst.stopping
	initDone := inst.initDone
	p.grantLocked()
	p.mu.Unlock()
	p.instWG.Done()

	switch {
	case stopping == stopIdle:
		p.log.Debug("lambda instance stopped after idling", "instance", inst.n, "idleTimeout", p.o.IdleTimeout)
	case stopping == stopClosed:
	case stopping != stopNone:
		// Logged where the decision was made.
	case !initDone:
		p.log.Warn("lambda instance exited during init", "instance", inst.n, "error", failure.Error())
	default:
		p.log.Warn("lambda instance exited", "instance", inst.n, "status", exitStatus(waitErr))
	}
}

// failureLocked describes the instance's end as the failure of the event it
// held. Pool.mu is held.
func (inst *instance) failureLocked(waitErr error) error {
	p := inst.p
	fe := &FunctionError{Instance: inst.n, Init: !inst.initDone}
	switch inst.stopping {
	case stopClosed:
		fe.Type, fe.Message = ErrorTypeExit, "Runtime killed: the pool was closed"
	case stopInitError:
		return inst.initErr
	case stopTimeout:
		fe.Type, fe.Message = ErrorTypeTimeout, fmt.Sprintf("Task timed out after %.2f seconds", p.o.Timeout.Seconds())
	case stopInitTimeout:
		fe.Type, fe.Message = ErrorTypeTimeout, fmt.Sprintf("Init timed out after %.2f seconds", p.o.InitTimeout.Seconds())
	case stopAbandoned:
		fe.Type, fe.Message = ErrorTypeInvalidState, "the runtime stopped polling for events"
	default:
		fe.Type, fe.Message = ErrorTypeExit, "Runtime exited with error: "+exitStatus(waitErr)
		if waitErr == nil {
			fe.Message = "Runtime exited without providing a reason"
		}
	}
	return fe
}

func exitStatus(err error) string {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ProcessState.String()
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// lockedWriter serializes writes of whole lines from every instance.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes each complete line with a prefix; a last partial
// line waits for flush.
type prefixWriter struct {
	w      *lockedWriter
	prefix string

	mu  sync.Mutex
	buf []byte
}

func (pw *prefixWriter) Write(p []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.buf = append(pw.buf, p...)
	i := bytes.LastIndexByte(pw.buf, '\n')
	if i < 0 {
		if len(pw.buf) < 64<<10 {
			return len(p), nil
		}
		i = len(pw.buf) - 1 // a very long line goes out in pieces
	}
	var out []byte
	for line := range bytes.Lines(pw.buf[:i+1]) {
		out = append(out, pw.prefix...)
		out = append(out, line...)
	}
	if out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	pw.buf = append(pw.buf[:0], pw.buf[i+1:]...)
	_, _ = pw.w.Write(out)
	return len(p), nil
}

func (pw *prefixWriter) flush() {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if len(pw.buf) > 0 {
		_, _ = pw.w.Write(append([]byte(pw.prefix), append(pw.buf, '\n')...))
		pw.buf = pw.buf[:0]
	}
}
