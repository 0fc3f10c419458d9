package framework

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/mulletgo/mullet/store"
)

// storeAttempts bounds the attempts of one store call that fails
// transiently.
const storeAttempts = 6

// transient reports whether a store error is worth retrying: throttling,
// or a timeout of the call itself while the invocation still has time.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	return errors.Is(err, store.ErrThrottled) || errors.Is(err, context.DeadlineExceeded)
}

// ambiguous reports whether a failed write may nevertheless have been
// applied (a timeout after the request left).
func ambiguous(err error) bool { return errors.Is(err, context.DeadlineExceeded) }

// retryStore runs op, retrying transient failures with jittered
// exponential backoff from 5 ms while ctx allows. op must be idempotent, or
// must itself resolve the ambiguity of a write that timed out.
func retryStore(ctx context.Context, op func() error) error {
	var err error
	for attempt := 0; attempt < storeAttempts; attempt++ {
		if attempt > 0 {
			d := (5 * time.Millisecond) << (attempt - 1)
			d = d/2 + rand.N(d/2+1)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
		}
		err = op()
		if errors.Is(err, store.ErrThrottled) {
			noteThrottle(ctx)
		}
		if err == nil || !transient(ctx, err) {
			return err
		}
	}
	return err
}

// UpdateState's optimistic retries: full-jitter exponential backoff (a delay
// drawn uniformly from zero to a ceiling that grows fourfold per attempt
// from stateBackoffBase up to stateBackoffCap), for as long as the invocation's
// deadline leaves time for another attempt, or stateRetryBudget when ctx has
// no deadline. Contenders spread out instead of colliding again in step, so
// 100 concurrent updates of one connection all succeed
// (examples/chat TestConcurrentStateUpdates measures what it costs).
const (
	stateBackoffBase = 5 * time.Millisecond
	stateBackoffCap  = 2 * time.Second
	stateRetryBudget = 10 * time.Second
	// stateRetryMargin is left before the deadline for the attempt itself
	// and for the handler's reply.
	stateRetryMargin = 100 * time.Millisecond
)

// stateRetry paces the attempts of one UpdateState.
type stateRetry struct {
	attempts int
	deadline time.Time
}

func newStateRetry(ctx context.Context) *stateRetry {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(stateRetryBudget)
	}
	return &stateRetry{attempts: 1, deadline: deadline}
}

// wait sleeps before the next attempt after a conflict. It returns an error
// matching store.ErrConflict when the deadline leaves no time for one, or
// ctx's error.
func (r *stateRetry) wait(ctx context.Context) error {
	ceiling := min(stateBackoffCap, stateBackoffBase<<min(2*r.attempts, 20))
	d := rand.N(ceiling + 1)
	if time.Until(r.deadline) < d+stateRetryMargin {
		return fmt.Errorf("%w after %d attempts: the invocation's deadline leaves no time for another", store.ErrConflict, r.attempts)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	r.attempts++
	return nil
}
