package emulator

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestInvokeCtx: the lazily armed invocation context behaves as
// context.WithDeadline on the emulator's base context.
func TestInvokeCtx(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		ctx := newInvokeCtx(context.Background(), 20*time.Millisecond)
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > 20*time.Millisecond {
			t.Fatalf("Deadline() = %v, %v", d, ok)
		}
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		select {
		case <-child.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("derived context not done after the deadline")
		}
		if !errors.Is(child.Err(), context.DeadlineExceeded) || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err() = %v / %v", child.Err(), ctx.Err())
		}
		if !ctx.finish() {
			t.Error("finish: not timed out")
		}
	})
	t.Run("parent cancelled", func(t *testing.T) {
		base, stop := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
		ctx := newInvokeCtx(base, time.Hour)
		if ctx.Value(ctxKey{}) != "v" {
			t.Fatal("Value before arming")
		}
		child, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		if ctx.Value(ctxKey{}) != "v" || child.Value(ctxKey{}) != "v" {
			t.Fatal("Value after arming")
		}
		stop()
		<-child.Done()
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("Err() = %v", ctx.Err())
		}
		if ctx.finish() {
			t.Error("finish: timed out")
		}
	})
	t.Run("never armed", func(t *testing.T) {
		ctx := newInvokeCtx(context.Background(), time.Hour)
		if ctx.finish() {
			t.Error("finish: timed out")
		}
		ctx = newInvokeCtx(context.Background(), -time.Second)
		if !ctx.finish() {
			t.Error("finish after the deadline: not timed out")
		}
	})
}

type ctxKey struct{}
