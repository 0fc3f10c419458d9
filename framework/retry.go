package framework

import (
	"context"
	"errors"
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
		if err = op(); err == nil || !transient(ctx, err) {
			return err
		}
	}
	return err
}
