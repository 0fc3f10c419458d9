package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mulletgo/mullet/store"
)

// Clock is a settable time source shared by the suite and the store under
// test, so that expiry can be tested without sleeping.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to the current time, truncated to the second
// (DynamoDB's ttl attribute has one-second resolution).
func NewClock() *Clock { return &Clock{now: time.Now().Truncate(time.Second)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Factory returns a new, empty store that reads time from clock. It
// registers any cleanup with t.Cleanup.
type Factory func(t *testing.T, clock *Clock) store.Store

// Run runs the whole conformance suite against the stores newStore returns.
func Run(t *testing.T, newStore Factory) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store, *Clock)
	}{
		{"Connections", testConnections},
		{"State", testState},
		{"StateTooLarge", testStateTooLarge},
		{"StateConcurrentUpdates", testStateConcurrent},
		{"Groups", testGroups},
		{"Expiry", testExpiry},
		{"Barrier", testBarrier},
		{"BarrierExpiry", testBarrierExpiry},
		{"ExpireBarrier", testExpireBarrier},
		{"ExpireBarrierConcurrent", testExpireBarrierConcurrent},
		{"BarrierConcurrentArrivals", testBarrierConcurrent},
		{"ContextCanceled", testContextCanceled},
		{"ConnectionOverwrite", testConnectionOverwrite},
		{"ConnectionWithoutExpiry", testConnectionWithoutExpiry},
		{"ManyGroups", testManyGroups},
		{"BinaryData", testBinaryData},
		{"BarrierConnectionIDs", testBarrierConnectionIDs},
		{"BarrierDuplicateWhenFull", testBarrierDuplicateWhenFull},
		{"BarrierArrivalOrder", testBarrierArrivalOrder},
		{"BarrierRefusalReturnsBarrier", testBarrierRefusalReturnsBarrier},
		{"RestartBarrier", testRestartBarrier},
		{"RestartBarrierConcurrent", testRestartBarrierConcurrent},
		{"ContextCanceledEveryMethod", testContextCanceledEveryMethod},
		{"ConnectionAuthorizer", testConnectionAuthorizer},
		{"ConnectionIdentity", testConnectionIdentity},
		{"Inspect", testInspect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock()
			tt.fn(t, newStore(t, clock), clock)
		})
	}
	for _, tt := range continuityCases {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock()
			tt.fn(t, continuity(t, newStore(t, clock)), clock)
		})
	}
}

func put(t *testing.T, s store.Store, clock *Clock, id string) {
	t.Helper()
	err := s.PutConnection(context.Background(), store.Connection{
		ID: id, ConnectedAt: clock.Now(), SourceIP: "192.0.2.1", UserAgent: "storetest",
		Expires: clock.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("PutConnection(%s): %v", id, err)
	}
}

func testConnections(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	if _, err := s.GetConnection(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConnection(unknown) = %v, want ErrNotFound", err)
	}
	put(t, s, clock, "c1")
	got, err := s.GetConnection(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "c1" || got.SourceIP != "192.0.2.1" || got.UserAgent != "storetest" || !got.ConnectedAt.Equal(clock.Now()) {
		t.Fatalf("GetConnection = %+v", got)
	}
	if err := s.DeleteConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetConnection(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteConnection(ctx, "c1"); err != nil {
		t.Fatalf("second delete: %v, want nil", err)
	}
}

func testState(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	if _, err := s.LoadState(ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadState(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.SaveState(ctx, "ghost", []byte("x"), 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SaveState(unknown) = %v, want ErrNotFound", err)
	}
	put(t, s, clock, "c1")
	st, err := s.LoadState(ctx, "c1")
	if err != nil || st.Version != 0 || len(st.Data) != 0 {
		t.Fatalf("LoadState(new) = %+v, %v; want empty version 0", st, err)
	}
	v, err := s.SaveState(ctx, "c1", []byte(`{"n":1}`), 0)
	if err != nil || v != 1 {
		t.Fatalf("SaveState = %d, %v; want 1", v, err)
	}
	if _, err := s.SaveState(ctx, "c1", []byte(`{"n":2}`), 0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale SaveState = %v, want ErrConflict", err)
	}
	v, err = s.SaveState(ctx, "c1", []byte(`{"n":3}`), 1)
	if err != nil || v != 2 {
		t.Fatalf("SaveState(expect 1) = %d, %v; want 2", v, err)
	}
	st, err = s.LoadState(ctx, "c1")
	if err != nil || st.Version != 2 || string(st.Data) != `{"n":3}` {
		t.Fatalf("LoadState = %q v%d, %v", st.Data, st.Version, err)
	}
	// A connection's state is its own.
	put(t, s, clock, "c2")
	if st, _ := s.LoadState(ctx, "c2"); st.Version != 0 {
		t.Fatalf("c2 sees c1's state: %+v", st)
	}
	if err := s.DeleteConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadState(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadState after delete = %v, want ErrNotFound", err)
	}
}

func testStateTooLarge(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	put(t, s, clock, "c1")
	if _, err := s.SaveState(ctx, "c1", []byte(`"small"`), 0); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), store.MaxItemSize+1)
	if _, err := s.SaveState(ctx, "c1", big, 1); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("SaveState(401 KB) = %v, want ErrTooLarge", err)
	}
	st, err := s.LoadState(ctx, "c1")
	if err != nil || string(st.Data) != `"small"` || st.Version != 1 {
		t.Fatalf("state after rejected write = %q v%d, %v; want unchanged", st.Data, st.Version, err)
	}
	// The connection is still usable.
	if _, err := s.SaveState(ctx, "c1", []byte(`"next"`), 1); err != nil {
		t.Fatalf("SaveState after ErrTooLarge: %v", err)
	}
}

func testStateConcurrent(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	put(t, s, clock, "c1")
	const workers, each = 8, 10
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				for attempt := 0; ; attempt++ {
					if attempt > 1000 {
						errc <- errors.New("too many conflicts")
						return
					}
					st, err := s.LoadState(ctx, "c1")
					if err != nil {
						errc <- err
						return
					}
					n := 0
					if len(st.Data) > 0 {
						n, _ = strconv.Atoi(string(st.Data))
					}
					_, err = s.SaveState(ctx, "c1", []byte(strconv.Itoa(n+1)), st.Version)
					if errors.Is(err, store.ErrConflict) {
						conflicts.Add(1)
						continue
					}
					if err != nil {
						errc <- err
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	st, err := s.LoadState(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if string(st.Data) != strconv.Itoa(workers*each) || st.Version != workers*each {
		t.Fatalf("counter = %s v%d, want %d (lost update); conflicts seen: %d", st.Data, st.Version, workers*each, conflicts.Load())
	}
	t.Logf("%d conflicts retried", conflicts.Load())
}

func members(t *testing.T, s store.Store, group string) map[string]bool {
	t.Helper()
	ids, err := s.GroupMembers(context.Background(), group)
	if err != nil {
		t.Fatalf("GroupMembers(%s): %v", group, err)
	}
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		if m[id] {
			t.Fatalf("GroupMembers(%s) lists %s twice", group, id)
		}
		m[id] = true
	}
	return m
}

func testGroups(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	if err := s.JoinGroup(ctx, "room", "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("JoinGroup(unknown) = %v, want ErrNotFound", err)
	}
	for _, id := range []string{"a", "b", "c"} {
		put(t, s, clock, id)
		if err := s.JoinGroup(ctx, "room", id); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.JoinGroup(ctx, "room", "a"); err != nil {
		t.Fatalf("second join: %v", err)
	}
	if err := s.JoinGroup(ctx, "other", "a"); err != nil {
		t.Fatal(err)
	}
	if m := members(t, s, "room"); len(m) != 3 || !m["a"] || !m["b"] || !m["c"] {
		t.Fatalf("members = %v", m)
	}
	if err := s.LeaveGroup(ctx, "room", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaveGroup(ctx, "room", "b"); err != nil {
		t.Fatalf("second leave: %v", err)
	}
	if m := members(t, s, "room"); len(m) != 2 || m["b"] {
		t.Fatalf("members after leave = %v", m)
	}
	if err := s.DeleteConnection(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if m := members(t, s, "room"); len(m) != 1 || !m["c"] {
		t.Fatalf("members after delete = %v, want only c", m)
	}
	if m := members(t, s, "other"); len(m) != 0 {
		t.Fatalf("other group after delete = %v, want empty", m)
	}
	if m := members(t, s, "empty"); len(m) != 0 {
		t.Fatalf("unknown group = %v", m)
	}
}

func testExpiry(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	put(t, s, clock, "old")
	if err := s.JoinGroup(ctx, "room", "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveState(ctx, "old", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	put(t, s, clock, "new")
	if err := s.JoinGroup(ctx, "room", "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetConnection(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired GetConnection = %v, want ErrNotFound", err)
	}
	if _, err := s.LoadState(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired LoadState = %v, want ErrNotFound", err)
	}
	if _, err := s.SaveState(ctx, "old", []byte("2"), 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired SaveState = %v, want ErrNotFound", err)
	}
	if m := members(t, s, "room"); len(m) != 1 || !m["new"] {
		t.Fatalf("members = %v, want only the live one", m)
	}
	if err := s.JoinGroup(ctx, "room", "old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("JoinGroup(expired) = %v, want ErrNotFound", err)
	}
}

func arrive(t *testing.T, s store.Store, clock *Clock, key string, size int, id string) (store.Barrier, error) {
	t.Helper()
	return s.Arrive(context.Background(), key, size, store.Arrival{
		ConnectionID: id, Payload: []byte(`{"ip":"` + id + `"}`), At: clock.Now(),
	}, clock.Now().Add(time.Minute))
}

func ids(b store.Barrier) []string {
	out := make([]string, len(b.Arrivals))
	for i, a := range b.Arrivals {
		out[i] = a.ConnectionID
	}
	return out
}

func testBarrier(t *testing.T, s store.Store, clock *Clock) {
	b, err := arrive(t, s, clock, "k", 2, "a")
	if err != nil || b.Complete() || b.Duplicate || len(b.Arrivals) != 1 || b.Size != 2 {
		t.Fatalf("first arrival = %+v, %v", b, err)
	}
	if string(b.Arrivals[0].Payload) != `{"ip":"a"}` {
		t.Fatalf("payload = %q", b.Arrivals[0].Payload)
	}
	b, err = arrive(t, s, clock, "k", 2, "a")
	if err != nil || !b.Duplicate || len(b.Arrivals) != 1 {
		t.Fatalf("duplicate arrival = %+v, %v; want Duplicate and unchanged", b, err)
	}
	clock.Advance(time.Second)
	b, err = arrive(t, s, clock, "k", 2, "b")
	if err != nil || !b.Complete() || b.Duplicate {
		t.Fatalf("second arrival = %+v, %v; want complete", b, err)
	}
	if got := ids(b); got[0] != "a" || got[1] != "b" {
		t.Fatalf("arrival order = %v, want [a b]", got)
	}
	if string(b.Arrivals[0].Payload) != `{"ip":"a"}` || string(b.Arrivals[1].Payload) != `{"ip":"b"}` {
		t.Fatalf("payloads = %q %q", b.Arrivals[0].Payload, b.Arrivals[1].Payload)
	}
	if _, err := arrive(t, s, clock, "k", 2, "c"); !errors.Is(err, store.ErrBarrierFull) {
		t.Fatalf("third arrival = %v, want ErrBarrierFull", err)
	}
	// A participant found gone at release is evicted; the barrier reopens.
	b, err = s.Evict(context.Background(), "k", "a")
	if err != nil || len(b.Arrivals) != 1 || b.Arrivals[0].ConnectionID != "b" {
		t.Fatalf("Evict = %+v, %v", b, err)
	}
	if _, err := s.Evict(context.Background(), "k", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Evict = %v, want ErrNotFound", err)
	}
	if _, err := s.Evict(context.Background(), "nokey", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Evict(unknown barrier) = %v, want ErrNotFound", err)
	}
	b, err = arrive(t, s, clock, "k", 2, "c")
	if err != nil || !b.Complete() || ids(b)[0] != "b" || ids(b)[1] != "c" {
		t.Fatalf("arrival after eviction = %+v, %v", b, err)
	}
	// Barriers are independent.
	b, err = arrive(t, s, clock, "k2", 2, "a")
	if err != nil || len(b.Arrivals) != 1 {
		t.Fatalf("other barrier = %+v, %v", b, err)
	}
}

func testBarrierExpiry(t *testing.T, s store.Store, clock *Clock) {
	if _, err := arrive(t, s, clock, "k", 2, "a"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	b, err := arrive(t, s, clock, "k", 2, "b")
	if err != nil || len(b.Arrivals) != 1 || b.Arrivals[0].ConnectionID != "b" || b.Complete() {
		t.Fatalf("arrival at expired barrier = %+v, %v; want a fresh barrier holding only b", b, err)
	}
	if got := arrivalIDs(b.Expired); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("Expired of the arrival that replaced an expired barrier = %v, want [a] (the arrival that waited in vain)", got)
	}
	if string(b.Expired[0].Payload) != `{"ip":"a"}` {
		t.Fatalf("expired arrival's payload = %q", b.Expired[0].Payload)
	}
	// A completed barrier that expires released everyone: nothing to report.
	if b, err = arrive(t, s, clock, "k", 2, "c"); err != nil || !b.Complete() {
		t.Fatalf("completing arrival = %+v, %v", b, err)
	}
	clock.Advance(2 * time.Minute)
	if b, err = arrive(t, s, clock, "k", 2, "d"); err != nil || len(b.Expired) != 0 {
		t.Fatalf("arrival after a completed barrier expired = %+v, %v; want no Expired", b, err)
	}
	if _, err := s.Evict(context.Background(), "k", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Evict of expired arrival = %v, want ErrNotFound", err)
	}
}

func arrivalIDs(as []store.Arrival) []string {
	return ids(store.Barrier{Arrivals: as})
}

// testExpireBarrier: ExpireBarrier removes exactly the generation it names,
// only while incomplete, also when it runs late, and reports each expired
// barrier once.
func testExpireBarrier(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	if _, err := s.ExpireBarrier(ctx, "none", clock.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ExpireBarrier of an absent barrier = %v, want ErrNotFound", err)
	}
	first, err := arrive(t, s, clock, "k", 3, "a")
	if err != nil {
		t.Fatal(err)
	}
	if first.Expires.IsZero() {
		t.Fatal("Arrive returned a zero Expires")
	}
	if _, err := arrive(t, s, clock, "k", 3, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExpireBarrier(ctx, "k", first.Expires.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ExpireBarrier with another expiry = %v, want ErrNotFound", err)
	}
	// The timer runs late: past the expiry, within the retention.
	clock.Advance(90 * time.Second)
	gone, err := s.ExpireBarrier(ctx, "k", first.Expires)
	if err != nil || !slices.Equal(ids(gone), []string{"a", "b"}) {
		t.Fatalf("ExpireBarrier = %v, %v; want the arrivals a, b", ids(gone), err)
	}
	if _, err := s.ExpireBarrier(ctx, "k", first.Expires); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second ExpireBarrier = %v, want ErrNotFound", err)
	}
	b, err := arrive(t, s, clock, "k", 3, "c")
	if err != nil || !slices.Equal(ids(b), []string{"c"}) || len(b.Expired) != 0 {
		t.Fatalf("arrival after ExpireBarrier = %v (expired %v), %v; want a fresh barrier [c] and nothing reported twice", ids(b), arrivalIDs(b.Expired), err)
	}
	if _, err := s.Evict(ctx, "k", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Evict of an expired arrival = %v, want ErrNotFound", err)
	}
	// A newer generation is not touched by the older one's timer.
	if _, err := s.ExpireBarrier(ctx, "k", first.Expires); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old generation's ExpireBarrier on a new barrier = %v, want ErrNotFound", err)
	}
	// A complete barrier is never expired: it released everyone.
	full, err := arrive(t, s, clock, "p", 2, "x")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := arrive(t, s, clock, "p", 2, "y"); err != nil || !b.Complete() {
		t.Fatalf("pair = %+v, %v", b, err)
	}
	if _, err := s.ExpireBarrier(ctx, "p", full.Expires); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ExpireBarrier of a complete barrier = %v, want ErrNotFound", err)
	}
	if _, err := arrive(t, s, clock, "p", 2, "z"); !errors.Is(err, store.ErrBarrierFull) {
		t.Fatalf("arrival at the complete barrier after its ExpireBarrier = %v, want ErrBarrierFull", err)
	}
}

// testExpireBarrierConcurrent: a timeout racing the arrival that would
// complete a barrier, and a timeout racing an arrival that replaces the
// expired barrier: each barrier is either released or expired, never both,
// and its waiting arrivals are reported exactly once.
func testExpireBarrierConcurrent(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	const keys = 12
	exp := make([]time.Time, keys)
	for k := range keys {
		b, err := arrive(t, s, clock, fmt.Sprintf("race%d", k), 2, "a")
		if err != nil {
			t.Fatal(err)
		}
		exp[k] = b.Expires
	}
	type outcome struct {
		expired, completed, reported int
	}
	out := make([]outcome, keys)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k := range keys {
		key := fmt.Sprintf("race%d", k)
		wg.Go(func() {
			gone, err := s.ExpireBarrier(ctx, key, exp[k])
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && slices.Equal(ids(gone), []string{"a"}):
				out[k].expired++
			case errors.Is(err, store.ErrNotFound):
			default:
				t.Errorf("%s: ExpireBarrier = %v, %v", key, ids(gone), err)
			}
		})
		wg.Go(func() {
			b, err := arrive(t, s, clock, key, 2, "b")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("%s: Arrive = %v", key, err)
			case b.Complete():
				out[k].completed++
			case !slices.Equal(ids(b), []string{"b"}):
				t.Errorf("%s: Arrive after the timeout = %v, want a fresh barrier [b]", key, ids(b))
			}
		})
	}
	wg.Wait()
	for k, o := range out {
		if o.expired+o.completed != 1 {
			t.Errorf("race%d: expired %d, completed %d; want exactly one of them", k, o.expired, o.completed)
		}
	}

	// After the expiry: the timer and a replacing arrival race; the
	// waiting arrival is reported by exactly one of them.
	for k := range keys {
		b, err := arrive(t, s, clock, fmt.Sprintf("late%d", k), 2, "a")
		if err != nil {
			t.Fatal(err)
		}
		exp[k] = b.Expires
	}
	clock.Advance(2 * time.Minute)
	out = make([]outcome, keys)
	for k := range keys {
		key := fmt.Sprintf("late%d", k)
		wg.Go(func() {
			gone, err := s.ExpireBarrier(ctx, key, exp[k])
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				out[k].reported += len(gone.Arrivals)
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: ExpireBarrier = %v", key, err)
			}
		})
		wg.Go(func() {
			b, err := arrive(t, s, clock, key, 2, "b")
			mu.Lock()
			defer mu.Unlock()
			if err != nil || !slices.Equal(ids(b), []string{"b"}) {
				t.Errorf("%s: Arrive = %v, %v; want a fresh barrier [b]", key, ids(b), err)
			}
			out[k].reported += len(b.Expired)
		})
	}
	wg.Wait()
	for k, o := range out {
		if o.reported != 1 {
			t.Errorf("late%d: the expired arrival was reported %d times, want once", k, o.reported)
		}
	}
}

func testBarrierConcurrent(t *testing.T, s store.Store, clock *Clock) {
	for _, size := range []int{2, 5} {
		t.Run(fmt.Sprintf("size%d", size), func(t *testing.T) {
			const barriers, arrivals = 10, 12
			var wg sync.WaitGroup
			type result struct {
				b   store.Barrier
				err error
			}
			results := make([][]result, barriers)
			for k := range barriers {
				results[k] = make([]result, arrivals)
				for i := range arrivals {
					wg.Go(func() {
						key := fmt.Sprintf("size%d-key%d", size, k)
						b, err := arrive(t, s, clock, key, size, fmt.Sprintf("conn%d", i))
						results[k][i] = result{b, err}
					})
				}
			}
			wg.Wait()
			for k := range barriers {
				complete, ok, full := 0, 0, 0
				for _, r := range results[k] {
					switch {
					case errors.Is(r.err, store.ErrBarrierFull):
						full++
					case r.err != nil:
						t.Fatalf("barrier %d: %v", k, r.err)
					default:
						ok++
						if r.b.Complete() {
							complete++
							if len(r.b.Arrivals) != size {
								t.Fatalf("complete barrier holds %d arrivals", len(r.b.Arrivals))
							}
						}
					}
				}
				if complete != 1 || ok != size || full != arrivals-size {
					t.Fatalf("barrier %d: %d saw it complete, %d admitted, %d refused; want 1, %d, %d", k, complete, ok, full, size, arrivals-size)
				}
			}
		})
	}
}

func testContextCanceled(t *testing.T, s store.Store, clock *Clock) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutConnection(ctx, store.Connection{ID: "x", Expires: clock.Now().Add(time.Hour)}); err == nil {
		t.Fatal("PutConnection with a canceled context succeeded")
	}
	if _, err := s.LoadState(ctx, "x"); err == nil {
		t.Fatal("LoadState with a canceled context succeeded")
	}
}
