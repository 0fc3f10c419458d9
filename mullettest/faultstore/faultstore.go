// Package faultstore wraps a store.Store to inject the faults a real
// backend shows under load: throttling, timeouts (some after the write was
// applied, the ambiguous kind) and lost conditional writes. Tests use it to
// prove that the framework loses nothing and releases no barrier twice.
package faultstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mulletgo/mullet/store"
)

// ErrTimeout is the error an injected timeout returns. It matches
// context.DeadlineExceeded, as a timed-out SDK call does.
var ErrTimeout = fmt.Errorf("faultstore: injected timeout: %w", context.DeadlineExceeded)

// Options configures the faults. The zero value injects none.
type Options struct {
	// Rate is the probability that a call fails, in [0, 1].
	Rate float64
	// Seed seeds the fault sequence, so that a failing run can be replayed.
	Seed uint64
}

// Stats counts injected faults by kind.
type Stats struct {
	Throttled, TimeoutsBefore, TimeoutsAfter, Conflicts int64
}

// Store is a store.Store that injects faults into calls to an inner one.
type Store struct {
	inner store.Store
	rate  float64

	mu  sync.Mutex
	rnd *rand.Rand

	throttled, before, after, conflicts atomic.Int64
}

var _ store.Store = (*Store)(nil)

// New wraps inner.
func New(inner store.Store, opts Options) *Store {
	return &Store{inner: inner, rate: opts.Rate, rnd: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))}
}

// Stats returns how many faults were injected so far.
func (s *Store) Stats() Stats {
	return Stats{Throttled: s.throttled.Load(), TimeoutsBefore: s.before.Load(), TimeoutsAfter: s.after.Load(), Conflicts: s.conflicts.Load()}
}

type fault int

const (
	none fault = iota
	throttle
	timeoutBefore
	timeoutAfter
	conflict
)

// pick draws the fault for one call. conflictOK says whether the call can
// lose a conditional write.
func (s *Store) pick(conflictOK bool) fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rnd.Float64() >= s.rate {
		return none
	}
	n := 3
	if conflictOK {
		n = 4
	}
	return fault(1 + s.rnd.IntN(n))
}

// do runs call under fault f: throttling and early timeouts skip it, late
// timeouts run it and report failure anyway.
func (s *Store) do(f fault, call func() error) error {
	switch f {
	case throttle:
		s.throttled.Add(1)
		time.Sleep(time.Millisecond)
		return fmt.Errorf("faultstore: injected: %w", store.ErrThrottled)
	case timeoutBefore:
		s.before.Add(1)
		time.Sleep(2 * time.Millisecond)
		return ErrTimeout
	case timeoutAfter:
		s.after.Add(1)
		if err := call(); err != nil {
			return err
		}
		return ErrTimeout
	case conflict:
		s.conflicts.Add(1)
		return fmt.Errorf("faultstore: injected: %w", store.ErrConflict)
	}
	return call()
}

// PutConnection implements store.Store.
func (s *Store) PutConnection(ctx context.Context, c store.Connection) error {
	return s.do(s.pick(false), func() error { return s.inner.PutConnection(ctx, c) })
}

// GetConnection implements store.Store.
func (s *Store) GetConnection(ctx context.Context, id string) (c store.Connection, err error) {
	err = s.do(s.pick(false), func() error { c, err = s.inner.GetConnection(ctx, id); return err })
	return c, err
}

// DeleteConnection implements store.Store.
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	return s.do(s.pick(false), func() error { return s.inner.DeleteConnection(ctx, id) })
}

// LoadState implements store.Store.
func (s *Store) LoadState(ctx context.Context, id string) (st store.State, err error) {
	err = s.do(s.pick(false), func() error { st, err = s.inner.LoadState(ctx, id); return err })
	return st, err
}

// SaveState implements store.Store.
func (s *Store) SaveState(ctx context.Context, id string, data []byte, expect int64) (v int64, err error) {
	err = s.do(s.pick(true), func() error { v, err = s.inner.SaveState(ctx, id, data, expect); return err })
	return v, err
}

// JoinGroup implements store.Store.
func (s *Store) JoinGroup(ctx context.Context, group, id string) error {
	return s.do(s.pick(false), func() error { return s.inner.JoinGroup(ctx, group, id) })
}

// LeaveGroup implements store.Store.
func (s *Store) LeaveGroup(ctx context.Context, group, id string) error {
	return s.do(s.pick(false), func() error { return s.inner.LeaveGroup(ctx, group, id) })
}

// GroupMembers implements store.Store.
func (s *Store) GroupMembers(ctx context.Context, group string) (ids []string, err error) {
	err = s.do(s.pick(false), func() error { ids, err = s.inner.GroupMembers(ctx, group); return err })
	return ids, err
}

// Arrive implements store.Store.
func (s *Store) Arrive(ctx context.Context, key string, size int, a store.Arrival, expires time.Time) (b store.Barrier, err error) {
	err = s.do(s.pick(false), func() error { b, err = s.inner.Arrive(ctx, key, size, a, expires); return err })
	return b, err
}

// RestartBarrier implements store.Store. It can lose its conditional write.
func (s *Store) RestartBarrier(ctx context.Context, key string, size int, a store.Arrival, expires, prev time.Time) (b store.Barrier, err error) {
	err = s.do(s.pick(true), func() error { b, err = s.inner.RestartBarrier(ctx, key, size, a, expires, prev); return err })
	return b, err
}

// Evict implements store.Store.
func (s *Store) Evict(ctx context.Context, key, id string) (b store.Barrier, err error) {
	err = s.do(s.pick(false), func() error { b, err = s.inner.Evict(ctx, key, id); return err })
	return b, err
}

// ExpireBarrier implements store.Store.
func (s *Store) ExpireBarrier(ctx context.Context, key string, expires time.Time) (b store.Barrier, err error) {
	err = s.do(s.pick(false), func() error { b, err = s.inner.ExpireBarrier(ctx, key, expires); return err })
	return b, err
}
