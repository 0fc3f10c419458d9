package storetest

import (
	"context"
	"sync"
	"time"

	"github.com/mulletgo/mullet/store"
)

// Counter is a store.Store that counts the calls made to an inner store,
// split into writes and reads, so tests and benchmarks can state exactly
// what an operation costs.
type Counter struct {
	inner store.Store

	mu    sync.Mutex
	calls map[string]int64
}

var _ store.Store = (*Counter)(nil)

// NewCounter wraps inner.
func NewCounter(inner store.Store) *Counter {
	return &Counter{inner: inner, calls: map[string]int64{}}
}

// writes are the methods that write; the others read.
var writes = map[string]bool{
	"PutConnection": true, "DeleteConnection": true, "SaveState": true,
	"JoinGroup": true, "LeaveGroup": true, "Arrive": true, "RestartBarrier": true, "Evict": true,
	"ExpireBarrier": true,
	"CreateSession": true, "ResumeSession": true, "DetachSession": true, "DeleteSession": true,
	"SessionJoin": true, "SessionLeave": true, "SaveSessionState": true, "Append": true,
	"PutPresence": true, "AwayPresence": true, "LeavePresence": true,
}

func (c *Counter) count(method string) {
	c.mu.Lock()
	c.calls[method]++
	c.mu.Unlock()
}

// Calls returns the count of calls per method.
func (c *Counter) Calls() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.calls))
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

// Totals returns the number of write calls and read calls.
func (c *Counter) Totals() (writesN, readsN int64) {
	for m, n := range c.Calls() {
		if writes[m] {
			writesN += n
		} else {
			readsN += n
		}
	}
	return writesN, readsN
}

// Reset sets every count to zero.
func (c *Counter) Reset() {
	c.mu.Lock()
	c.calls = map[string]int64{}
	c.mu.Unlock()
}

// PutConnection implements store.Store.
func (c *Counter) PutConnection(ctx context.Context, r store.Connection) error {
	c.count("PutConnection")
	return c.inner.PutConnection(ctx, r)
}

// GetConnection implements store.Store.
func (c *Counter) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	c.count("GetConnection")
	return c.inner.GetConnection(ctx, id)
}

// DeleteConnection implements store.Store.
func (c *Counter) DeleteConnection(ctx context.Context, id string) error {
	c.count("DeleteConnection")
	return c.inner.DeleteConnection(ctx, id)
}

// LoadState implements store.Store.
func (c *Counter) LoadState(ctx context.Context, id string) (store.State, error) {
	c.count("LoadState")
	return c.inner.LoadState(ctx, id)
}

// SaveState implements store.Store.
func (c *Counter) SaveState(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	c.count("SaveState")
	return c.inner.SaveState(ctx, id, data, expect)
}

// JoinGroup implements store.Store.
func (c *Counter) JoinGroup(ctx context.Context, group, id string) error {
	c.count("JoinGroup")
	return c.inner.JoinGroup(ctx, group, id)
}

// LeaveGroup implements store.Store.
func (c *Counter) LeaveGroup(ctx context.Context, group, id string) error {
	c.count("LeaveGroup")
	return c.inner.LeaveGroup(ctx, group, id)
}

// GroupMembers implements store.Store.
func (c *Counter) GroupMembers(ctx context.Context, group string) ([]string, error) {
	c.count("GroupMembers")
	return c.inner.GroupMembers(ctx, group)
}

// Arrive implements store.Store.
func (c *Counter) Arrive(ctx context.Context, key string, size int, a store.Arrival, expires time.Time) (store.Barrier, error) {
	c.count("Arrive")
	return c.inner.Arrive(ctx, key, size, a, expires)
}

// RestartBarrier implements store.Store.
func (c *Counter) RestartBarrier(ctx context.Context, key string, size int, a store.Arrival, expires, prev time.Time) (store.Barrier, error) {
	c.count("RestartBarrier")
	return c.inner.RestartBarrier(ctx, key, size, a, expires, prev)
}

// Evict implements store.Store.
func (c *Counter) Evict(ctx context.Context, key, id string) (store.Barrier, error) {
	c.count("Evict")
	return c.inner.Evict(ctx, key, id)
}

// ExpireBarrier implements store.Store.
func (c *Counter) ExpireBarrier(ctx context.Context, key string, expires time.Time) (store.Barrier, error) {
	c.count("ExpireBarrier")
	return c.inner.ExpireBarrier(ctx, key, expires)
}
