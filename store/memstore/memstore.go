package memstore

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/mulletgo/mullet/store"
)

// Options configures a Store. The zero value is usable.
type Options struct {
	// Now returns the current time; nil means time.Now. Tests use it to
	// move time forward.
	Now func() time.Time
}

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	now func() time.Time

	mu       sync.Mutex
	conns    map[string]*conn
	groups   map[string]map[string]struct{}
	barriers map[string]*barrier
	writes   int
	c        *continuity
}

type conn struct {
	rec store.Connection
	versioned
	groups map[string]struct{}
}

// versioned is a state with its version: a connection's or a session's.
type versioned struct {
	state   []byte
	version int64
}

// load returns a copy of the state.
func (v *versioned) load() store.State {
	return store.State{Data: slices.Clone(v.state), Version: v.version}
}

// save replaces the state if its version is expect, and returns the new
// version; ErrConflict otherwise.
func (v *versioned) save(data []byte, expect int64) (int64, error) {
	if v.version != expect {
		return 0, store.ErrConflict
	}
	v.state = slices.Clone(data)
	v.version++
	return v.version, nil
}

type barrier struct {
	size     int
	arrivals []store.Arrival
	expires  time.Time
}

var _ store.Store = (*Store)(nil)

// New returns an empty Store.
func New(opts *Options) *Store {
	s := &Store{
		now:      time.Now,
		conns:    make(map[string]*conn),
		groups:   make(map[string]map[string]struct{}),
		barriers: make(map[string]*barrier),
	}
	if opts != nil && opts.Now != nil {
		s.now = opts.Now
	}
	return s
}

// itemOverhead approximates the attribute names and key of a connection
// item, so the size check matches DynamoDB's to within a few bytes.
const itemOverhead = 128

func (s *Store) live(id string, now time.Time) (*conn, bool) {
	c, ok := s.conns[id]
	if !ok {
		return nil, false
	}
	if !c.rec.Expires.IsZero() && !now.Before(c.rec.Expires) {
		s.dropConn(id, c)
		return nil, false
	}
	return c, true
}

func (s *Store) dropConn(id string, c *conn) {
	for g := range c.groups {
		if m := s.groups[g]; m != nil {
			delete(m, id)
			if len(m) == 0 {
				delete(s.groups, g)
			}
		}
	}
	delete(s.conns, id)
}

// sweep removes expired items now and then, so that a long-running
// emulator does not grow without bound. Callers hold s.mu.
func (s *Store) sweep(now time.Time) {
	s.writes++
	if s.writes%4096 != 0 {
		return
	}
	for id := range s.conns {
		s.live(id, now)
	}
	for k, b := range s.barriers {
		if !now.Before(b.expires.Add(store.ExpiredBarrierRetention)) {
			delete(s.barriers, k)
		}
	}
	if s.c != nil {
		for id, x := range s.c.sessions {
			if expiredAt(x.rec.Expires, now) {
				delete(s.c.sessions, id)
			}
		}
	}
}

// PutConnection implements store.Store.
func (s *Store) PutConnection(ctx context.Context, c store.Connection) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweep(now)
	if old, ok := s.conns[c.ID]; ok {
		s.dropConn(c.ID, old)
	}
	c.Authorizer = cloneAuth(c.Authorizer)
	s.conns[c.ID] = &conn{rec: c}
	return nil
}

// GetConnection implements store.Store.
func (s *Store) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	if err := ctx.Err(); err != nil {
		return store.Connection{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.live(id, s.now())
	if !ok {
		return store.Connection{}, store.ErrNotFound
	}
	rec := c.rec
	rec.Authorizer = cloneAuth(rec.Authorizer)
	return rec, nil
}

// cloneAuth copies an authorizer context, so that callers never share the
// stored map. Empty becomes nil, as a DynamoDB item without the attribute
// reads back.
func cloneAuth(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// DeleteConnection implements store.Store.
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[id]; ok {
		s.dropConn(id, c)
	}
	return nil
}

// LoadState implements store.Store.
func (s *Store) LoadState(ctx context.Context, id string) (store.State, error) {
	return s.loadVersioned(ctx, s.connState(id))
}

// SaveState implements store.Store.
func (s *Store) SaveState(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	return s.saveVersioned(ctx, id, data, expect, s.connState(id))
}

// connState finds the state of the live connection id.
func (s *Store) connState(id string) func(now time.Time) (*versioned, bool) {
	return func(now time.Time) (*versioned, bool) {
		c, ok := s.live(id, now)
		if !ok {
			return nil, false
		}
		return &c.versioned, true
	}
}

// loadVersioned returns the state find finds (under the lock), or
// ErrNotFound.
func (s *Store) loadVersioned(ctx context.Context, find func(now time.Time) (*versioned, bool)) (store.State, error) {
	if err := ctx.Err(); err != nil {
		return store.State{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := find(s.now())
	if !ok {
		return store.State{}, store.ErrNotFound
	}
	return v.load(), nil
}

// saveVersioned saves data as the state find finds (under the lock) of the
// item id, if it is at version expect.
func (s *Store) saveVersioned(ctx context.Context, id string, data []byte, expect int64, find func(now time.Time) (*versioned, bool)) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(data)+len(id)+itemOverhead > store.MaxItemSize {
		return 0, store.ErrTooLarge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := find(s.now())
	if !ok {
		return 0, store.ErrNotFound
	}
	return v.save(data, expect)
}

// JoinGroup implements store.Store.
func (s *Store) JoinGroup(ctx context.Context, group, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.live(id, s.now())
	if !ok {
		return store.ErrNotFound
	}
	if c.groups == nil {
		c.groups = make(map[string]struct{})
	}
	c.groups[group] = struct{}{}
	m := s.groups[group]
	if m == nil {
		m = make(map[string]struct{})
		s.groups[group] = m
	}
	m[id] = struct{}{}
	return nil
}

// LeaveGroup implements store.Store.
func (s *Store) LeaveGroup(ctx context.Context, group, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[id]; ok {
		delete(c.groups, group)
	}
	if m := s.groups[group]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(s.groups, group)
		}
	}
	return nil
}

// GroupMembers implements store.Store.
func (s *Store) GroupMembers(ctx context.Context, group string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	m := s.groups[group]
	out := make([]string, 0, len(m))
	for id := range m {
		c, ok := s.conns[id]
		if !ok || (!c.rec.Expires.IsZero() && !now.Before(c.rec.Expires)) {
			continue
		}
		out = append(out, id)
	}
	return out, nil
}

// Arrive implements store.Store.
func (s *Store) Arrive(ctx context.Context, key string, size int, a store.Arrival, expires time.Time) (store.Barrier, error) {
	if err := ctx.Err(); err != nil {
		return store.Barrier{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweep(now)
	b, ok := s.barriers[key]
	var expired []store.Arrival
	if ok && !now.Before(b.expires) {
		if len(b.arrivals) < b.size {
			expired = b.snapshot(key).Arrivals
		}
		ok = false
	}
	if !ok {
		b = &barrier{size: size, expires: expires}
		s.barriers[key] = b
	}
	for _, x := range b.arrivals {
		if x.ConnectionID == a.ConnectionID {
			out := b.snapshot(key)
			out.Duplicate = true
			return out, nil
		}
	}
	if len(b.arrivals) >= b.size {
		return b.snapshot(key), store.ErrBarrierFull
	}
	a.Payload = slices.Clone(a.Payload)
	b.arrivals = append(b.arrivals, a)
	out := b.snapshot(key)
	out.Expired = expired
	return out, nil
}

// RestartBarrier implements store.Store.
func (s *Store) RestartBarrier(ctx context.Context, key string, size int, a store.Arrival, expires, prev time.Time) (store.Barrier, error) {
	if err := ctx.Err(); err != nil {
		return store.Barrier{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.barriers[key]
	if !ok || !b.expires.Equal(prev) || len(b.arrivals) < b.size {
		return store.Barrier{}, store.ErrConflict
	}
	a.Payload = slices.Clone(a.Payload)
	b = &barrier{size: size, expires: expires, arrivals: []store.Arrival{a}}
	s.barriers[key] = b
	return b.snapshot(key), nil
}

// ExpireBarrier implements store.Store.
func (s *Store) ExpireBarrier(ctx context.Context, key string, expires time.Time) (store.Barrier, error) {
	if err := ctx.Err(); err != nil {
		return store.Barrier{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.barriers[key]
	if !ok || !b.expires.Equal(expires) || len(b.arrivals) >= b.size {
		return store.Barrier{}, store.ErrNotFound
	}
	delete(s.barriers, key)
	return b.snapshot(key), nil
}

// Evict implements store.Store.
func (s *Store) Evict(ctx context.Context, key, connectionID string) (store.Barrier, error) {
	if err := ctx.Err(); err != nil {
		return store.Barrier{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.barriers[key]
	if !ok || !s.now().Before(b.expires) {
		return store.Barrier{}, store.ErrNotFound
	}
	i := slices.IndexFunc(b.arrivals, func(x store.Arrival) bool { return x.ConnectionID == connectionID })
	if i < 0 {
		return store.Barrier{}, store.ErrNotFound
	}
	b.arrivals = slices.Delete(b.arrivals, i, i+1)
	return b.snapshot(key), nil
}

func (b *barrier) snapshot(key string) store.Barrier {
	arr := make([]store.Arrival, len(b.arrivals))
	for i, a := range b.arrivals {
		arr[i] = store.Arrival{ConnectionID: a.ConnectionID, Payload: slices.Clone(a.Payload), At: a.At}
	}
	return store.Barrier{Key: key, Size: b.size, Arrivals: arr, Expires: b.expires}
}
