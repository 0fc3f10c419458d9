package emulator

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// invokeCtx is the ctx of one invocation: the emulator's base context with
// the integration deadline. It behaves as context.WithDeadline(parent,
// deadline) but arms that context, and its timer, only when something asks
// for Done or Err: most invocations (an echo on a two-way route) finish
// without ever waiting on their ctx, and arming a timer for each was ~6% of
// the emulator's CPU in the two-way echo benchmark (mullet bench -route
// echo). Deadline and Value need no timer.
type invokeCtx struct {
	parent   context.Context
	deadline time.Time

	mu    sync.Mutex
	armed atomic.Pointer[armedCtx]
}

// armedCtx is context.WithDeadline(parent, deadline).
type armedCtx struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newInvokeCtx(parent context.Context, timeout time.Duration) *invokeCtx {
	return &invokeCtx{parent: parent, deadline: time.Now().Add(timeout)}
}

func (c *invokeCtx) arm() context.Context {
	if a := c.armed.Load(); a != nil {
		return a.ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.armed.Load(); a != nil {
		return a.ctx
	}
	ctx, cancel := context.WithDeadline(c.parent, c.deadline)
	c.armed.Store(&armedCtx{ctx: ctx, cancel: cancel})
	return ctx
}

// Deadline returns the integration deadline.
func (c *invokeCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done returns a channel closed at the deadline or when the emulator shuts
// down.
func (c *invokeCtx) Done() <-chan struct{} { return c.arm().Done() }

// Err reports why Done is closed, or nil.
func (c *invokeCtx) Err() error { return c.arm().Err() }

// Value looks key up in the armed context once there is one (so that
// contexts derived from this one, which arm it by asking for Done, find its
// cancellation as they find any standard context's, without a goroutine
// each), else in the parent.
func (c *invokeCtx) Value(key any) any {
	if a := c.armed.Load(); a != nil {
		return a.ctx.Value(key)
	}
	return c.parent.Value(key)
}

// finish releases the timer, if armed, and reports whether the deadline
// passed before the invocation returned.
func (c *invokeCtx) finish() (timedOut bool) {
	if a := c.armed.Load(); a != nil {
		err := a.ctx.Err()
		a.cancel()
		return err == context.DeadlineExceeded
	}
	return !time.Now().Before(c.deadline)
}
