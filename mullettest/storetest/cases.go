package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mulletgo/mullet/store"
)

// testConnectionOverwrite: PutConnection on an existing ID replaces the
// record and drops its state and group memberships.
func testConnectionOverwrite(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	put(t, s, clock, "c1")
	if _, err := s.SaveState(ctx, "c1", []byte("old"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.JoinGroup(ctx, "room", "c1"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	err := s.PutConnection(ctx, store.Connection{
		ID: "c1", ConnectedAt: clock.Now(), SourceIP: "198.51.100.7", UserAgent: "again",
		Expires: clock.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnection(ctx, "c1")
	if err != nil || got.SourceIP != "198.51.100.7" || got.UserAgent != "again" || !got.ConnectedAt.Equal(clock.Now()) {
		t.Fatalf("GetConnection after overwrite = %+v, %v", got, err)
	}
	if st, err := s.LoadState(ctx, "c1"); err != nil || st.Version != 0 || len(st.Data) != 0 {
		t.Fatalf("state after overwrite = %q v%d, %v; want none", st.Data, st.Version, err)
	}
	if m := members(t, s, "room"); len(m) != 0 {
		t.Fatalf("members after overwrite = %v, want none", m)
	}
	if v, err := s.SaveState(ctx, "c1", []byte("new"), 0); err != nil || v != 1 {
		t.Fatalf("SaveState after overwrite = %d, %v; want 1", v, err)
	}
}

// testConnectionWithoutExpiry: a zero Expires never expires, and the
// record keeps the times it was given.
func testConnectionWithoutExpiry(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	at := clock.Now()
	if err := s.PutConnection(ctx, store.Connection{ID: "forever", ConnectedAt: at}); err != nil {
		t.Fatal(err)
	}
	put(t, s, clock, "hour")
	if err := s.JoinGroup(ctx, "room", "forever"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnection(ctx, "hour")
	if err != nil || !got.Expires.Equal(at.Add(time.Hour)) {
		t.Fatalf("GetConnection(hour) = %+v, %v; want Expires %v", got, err, at.Add(time.Hour))
	}
	clock.Advance(1000 * time.Hour)
	got, err = s.GetConnection(ctx, "forever")
	if err != nil || !got.ConnectedAt.Equal(at) || !got.Expires.IsZero() {
		t.Fatalf("GetConnection(forever) = %+v, %v; want it live, ConnectedAt %v, zero Expires", got, err, at)
	}
	if v, err := s.SaveState(ctx, "forever", []byte("1"), 0); err != nil || v != 1 {
		t.Fatalf("SaveState(forever) = %d, %v", v, err)
	}
	if m := members(t, s, "room"); len(m) != 1 || !m["forever"] {
		t.Fatalf("members = %v, want forever", m)
	}
	if _, err := s.GetConnection(ctx, "hour"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConnection(hour) 1000 h later = %v, want ErrNotFound", err)
	}
}

// testManyGroups: deleting a connection removes it from every group it
// joined, however many.
func testManyGroups(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	put(t, s, clock, "c1")
	put(t, s, clock, "c2")
	const n = 60
	for i := range n {
		g := fmt.Sprintf("g%02d", i)
		if err := s.JoinGroup(ctx, g, "c1"); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := s.JoinGroup(ctx, g, "c2"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.LeaveGroup(ctx, "g01", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaveGroup(ctx, "g00", "ghost"); err != nil {
		t.Fatalf("LeaveGroup(unknown connection) = %v, want nil", err)
	}
	if err := s.DeleteConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		g := fmt.Sprintf("g%02d", i)
		m := members(t, s, g)
		if m["c1"] || (i%2 == 0) != m["c2"] || len(m) > 1 {
			t.Fatalf("members(%s) after deleting c1 = %v", g, m)
		}
	}
	if err := s.JoinGroup(ctx, "g00", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("JoinGroup after delete = %v, want ErrNotFound", err)
	}
}

// testBinaryData: state and payloads are bytes, kept exactly; empty state
// is state too.
func testBinaryData(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	all := make([]byte, 512)
	for i := range all {
		all[i] = byte(i)
	}
	put(t, s, clock, "c1")
	if _, err := s.SaveState(ctx, "c1", all, 0); err != nil {
		t.Fatal(err)
	}
	st, err := s.LoadState(ctx, "c1")
	if err != nil || !bytes.Equal(st.Data, all) || st.Version != 1 {
		t.Fatalf("LoadState = %d bytes v%d, %v; want the 512 bytes saved", len(st.Data), st.Version, err)
	}
	if v, err := s.SaveState(ctx, "c1", nil, 1); err != nil || v != 2 {
		t.Fatalf("SaveState(empty) = %d, %v; want 2", v, err)
	}
	st, err = s.LoadState(ctx, "c1")
	if err != nil || len(st.Data) != 0 || st.Version != 2 {
		t.Fatalf("LoadState after empty save = %q v%d, %v", st.Data, st.Version, err)
	}
	b, err := s.Arrive(ctx, "bin", 2, store.Arrival{ConnectionID: "a", Payload: all, At: clock.Now()}, clock.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	b, err = s.Arrive(ctx, "bin", 2, store.Arrival{ConnectionID: "b", At: clock.Now()}, clock.Now().Add(time.Minute))
	if err != nil || !b.Complete() {
		t.Fatalf("Arrive = %+v, %v", b, err)
	}
	if !bytes.Equal(b.Arrivals[0].Payload, all) || len(b.Arrivals[1].Payload) != 0 {
		t.Fatalf("payloads = %d bytes, %q; want the 512 bytes and none", len(b.Arrivals[0].Payload), b.Arrivals[1].Payload)
	}
}

// testBarrierConnectionIDs: connection IDs are opaque strings. API
// Gateway's look like base64; others may hold any character.
func testBarrierConnectionIDs(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	idList := []string{"L0SM9cOFvHcCIhw=", "a.b", "c[0]", "d%5B", "e+/f", "g h#i"}
	var b store.Barrier
	for i, id := range idList {
		var err error
		b, err = s.Arrive(ctx, "ids", len(idList), store.Arrival{
			ConnectionID: id, Payload: []byte(id), At: clock.Now().Add(time.Duration(i) * time.Millisecond),
		}, clock.Now().Add(time.Minute))
		if err != nil {
			t.Fatalf("Arrive(%q): %v", id, err)
		}
	}
	if got := ids(b); !b.Complete() || !slices.Equal(got, idList) {
		t.Fatalf("arrivals = %q, want %q complete", got, idList)
	}
	for _, a := range b.Arrivals {
		if string(a.Payload) != a.ConnectionID {
			t.Fatalf("arrival %q has payload %q", a.ConnectionID, a.Payload)
		}
	}
	b, err := s.Evict(ctx, "ids", "c[0]")
	if err != nil || len(b.Arrivals) != len(idList)-1 || slices.Contains(ids(b), "c[0]") {
		t.Fatalf("Evict(c[0]) = %q, %v", ids(b), err)
	}
	if _, err := s.Evict(ctx, "ids", "c"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Evict(c) = %v, want ErrNotFound", err)
	}
	b, err = s.Arrive(ctx, "ids", len(idList), store.Arrival{ConnectionID: "a.b", At: clock.Now()}, clock.Now().Add(time.Minute))
	if err != nil || !b.Duplicate {
		t.Fatalf("Arrive(a.b) again = %+v, %v; want Duplicate", b, err)
	}
}

// testBarrierDuplicateWhenFull: a participant repeating its arrival at a
// full barrier is a duplicate, not an overflow.
func testBarrierDuplicateWhenFull(t *testing.T, s store.Store, clock *Clock) {
	for _, id := range []string{"a", "b"} {
		if _, err := arrive(t, s, clock, "k", 2, id); err != nil {
			t.Fatal(err)
		}
	}
	b, err := arrive(t, s, clock, "k", 2, "a")
	if err != nil || !b.Duplicate || !b.Complete() || len(b.Arrivals) != 2 {
		t.Fatalf("repeated arrival at a full barrier = %+v, %v; want Duplicate and complete", b, err)
	}
	if _, err := arrive(t, s, clock, "k", 2, "c"); !errors.Is(err, store.ErrBarrierFull) {
		t.Fatalf("third arrival = %v, want ErrBarrierFull", err)
	}
}

// testBarrierArrivalOrder: arrivals come back ordered by At, then by
// connection ID, with At kept to the millisecond.
func testBarrierArrivalOrder(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	base := clock.Now()
	in := []store.Arrival{
		{ConnectionID: "x", At: base.Add(5 * time.Millisecond)},
		{ConnectionID: "y", At: base.Add(time.Millisecond)},
		{ConnectionID: "w", At: base.Add(time.Millisecond)},
	}
	var b store.Barrier
	for _, a := range in {
		var err error
		if b, err = s.Arrive(ctx, "order", 3, a, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// Write order, not arrival time: the last is the completing write.
	if got := ids(b); !slices.Equal(got, []string{"x", "y", "w"}) {
		t.Fatalf("order = %v, want write order [x y w]", got)
	}
	if !b.Arrivals[0].At.Equal(base.Add(5*time.Millisecond)) || !b.Arrivals[2].At.Equal(base.Add(time.Millisecond)) {
		t.Fatalf("arrival times = %v, %v", b.Arrivals[0].At, b.Arrivals[2].At)
	}
	// Read back (a duplicate arrival returns the stored barrier), the
	// order holds; after an eviction the rest keep their order.
	dup, err := s.Arrive(ctx, "order", 3, in[1], base.Add(time.Minute))
	if err != nil || !dup.Duplicate || !slices.Equal(ids(dup), []string{"x", "y", "w"}) {
		t.Fatalf("read back = %v (%v), want [x y w]", ids(dup), err)
	}
	ev, err := s.Evict(ctx, "order", "y")
	if err != nil || !slices.Equal(ids(ev), []string{"x", "w"}) {
		t.Fatalf("after evicting y = %v (%v), want [x w]", ids(ev), err)
	}
	b, err = s.Arrive(ctx, "order", 3, store.Arrival{ConnectionID: "v", At: base}, base.Add(time.Minute))
	if err != nil || !b.Complete() || !slices.Equal(ids(b), []string{"x", "w", "v"}) {
		t.Fatalf("after a new arrival = %v (%v), want complete [x w v]", ids(b), err)
	}
	if !b.Expires.Equal(base.Add(time.Minute)) {
		t.Fatalf("Expires = %v, want %v", b.Expires, base.Add(time.Minute))
	}
}

// testContextCanceledEveryMethod: no method works with a canceled context.
func testContextCanceledEveryMethod(t *testing.T, s store.Store, clock *Clock) {
	put(t, s, clock, "c1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func() error{
		"PutConnection":    func() error { return s.PutConnection(ctx, store.Connection{ID: "c2"}) },
		"GetConnection":    func() error { _, err := s.GetConnection(ctx, "c1"); return err },
		"DeleteConnection": func() error { return s.DeleteConnection(ctx, "c1") },
		"LoadState":        func() error { _, err := s.LoadState(ctx, "c1"); return err },
		"SaveState":        func() error { _, err := s.SaveState(ctx, "c1", []byte("x"), 0); return err },
		"JoinGroup":        func() error { return s.JoinGroup(ctx, "g", "c1") },
		"LeaveGroup":       func() error { return s.LeaveGroup(ctx, "g", "c1") },
		"GroupMembers":     func() error { _, err := s.GroupMembers(ctx, "g"); return err },
		"Arrive": func() error {
			_, err := s.Arrive(ctx, "k", 2, store.Arrival{ConnectionID: "c1", At: clock.Now()}, clock.Now().Add(time.Minute))
			return err
		},
		"RestartBarrier": func() error {
			_, err := s.RestartBarrier(ctx, "k", 2, store.Arrival{ConnectionID: "c1", At: clock.Now()}, clock.Now().Add(time.Minute), clock.Now())
			return err
		},
		"Evict":         func() error { _, err := s.Evict(ctx, "k", "c1"); return err },
		"ExpireBarrier": func() error { _, err := s.ExpireBarrier(ctx, "k", clock.Now()); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled", name, err)
		}
	}
	if _, err := s.GetConnection(context.Background(), "c1"); err != nil {
		t.Fatalf("c1 after canceled calls: %v; want it untouched", err)
	}
	if _, err := s.GetConnection(context.Background(), "c2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("c2 = %v; want ErrNotFound (canceled PutConnection wrote it)", err)
	}
}

// testBarrierRefusalReturnsBarrier: the refusal of an arrival at a full
// barrier carries the barrier as it is, so that the caller needs no read.
func testBarrierRefusalReturnsBarrier(t *testing.T, s store.Store, clock *Clock) {
	first, err := arrive(t, s, clock, "k", 2, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := arrive(t, s, clock, "k", 2, "b"); err != nil {
		t.Fatal(err)
	}
	b, err := arrive(t, s, clock, "k", 2, "c")
	if !errors.Is(err, store.ErrBarrierFull) {
		t.Fatalf("third arrival = %v, want ErrBarrierFull", err)
	}
	if got := ids(b); len(got) != 2 || got[0] != "a" || got[1] != "b" || b.Size != 2 || !b.Expires.Equal(first.Expires) || b.Key != "k" {
		t.Fatalf("refused arrival returned %+v; want the barrier as it is: [a b], size 2, Expires %v", b, first.Expires)
	}
}

// testRestartBarrier: RestartBarrier replaces exactly the complete
// generation it names with a new one holding only the caller.
func testRestartBarrier(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	first, err := arrive(t, s, clock, "k", 2, "a")
	if err != nil {
		t.Fatal(err)
	}
	c := store.Arrival{ConnectionID: "c", Payload: []byte(`{"ip":"c"}`), At: clock.Now()}
	// Not complete: nothing to restart.
	if _, err := s.RestartBarrier(ctx, "k", 2, c, clock.Now().Add(time.Hour), first.Expires); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("RestartBarrier of a waiting barrier = %v, want ErrConflict", err)
	}
	if _, err := s.RestartBarrier(ctx, "none", 2, c, clock.Now().Add(time.Hour), first.Expires); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("RestartBarrier of an absent barrier = %v, want ErrConflict", err)
	}
	if _, err := arrive(t, s, clock, "k", 2, "b"); err != nil {
		t.Fatal(err)
	}
	// Another generation's expiry: not the one the caller saw.
	if _, err := s.RestartBarrier(ctx, "k", 2, c, clock.Now().Add(time.Hour), first.Expires.Add(time.Second)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("RestartBarrier naming another generation = %v, want ErrConflict", err)
	}
	clock.Advance(time.Second)
	expires := clock.Now().Add(time.Hour).Truncate(time.Millisecond)
	b, err := s.RestartBarrier(ctx, "k", 2, c, expires, first.Expires)
	if err != nil || ids(b)[0] != "c" || len(b.Arrivals) != 1 || b.Complete() || b.Duplicate || !b.Expires.Equal(expires) || b.Size != 2 {
		t.Fatalf("RestartBarrier = %+v, %v; want a new generation holding only c, expiring at %v", b, err, expires)
	}
	if string(b.Arrivals[0].Payload) != `{"ip":"c"}` {
		t.Fatalf("payload = %q", b.Arrivals[0].Payload)
	}
	// The old generation is gone: its participants are not in the new one,
	// its expiry names nothing, and the new generation fills as usual.
	if _, err := s.Evict(ctx, "k", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Evict(a) after the restart = %v, want ErrNotFound", err)
	}
	if _, err := s.ExpireBarrier(ctx, "k", first.Expires); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ExpireBarrier of the replaced generation = %v, want ErrNotFound", err)
	}
	if _, err := s.RestartBarrier(ctx, "k", 2, c, expires, first.Expires); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second RestartBarrier of the same generation = %v, want ErrConflict", err)
	}
	b, err = arrive(t, s, clock, "k", 2, "a")
	if err != nil || !b.Complete() || ids(b)[0] != "c" || ids(b)[1] != "a" || !b.Expires.Equal(expires) {
		t.Fatalf("arrival in the new generation = %+v, %v; want [c a] complete", b, err)
	}
	// A new generation expires like any barrier.
	if _, err := s.RestartBarrier(ctx, "k", 2, store.Arrival{ConnectionID: "d", At: clock.Now()}, expires.Add(time.Hour), expires); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ExpireBarrier(ctx, "k", expires.Add(time.Hour)); err != nil || ids(got)[0] != "d" {
		t.Fatalf("ExpireBarrier of a restarted generation = %+v, %v", got, err)
	}
}

// testRestartBarrierConcurrent: of many arrivals restarting the same
// complete generation at once, exactly one wins.
func testRestartBarrierConcurrent(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	first, err := arrive(t, s, clock, "k", 2, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := arrive(t, s, clock, "k", 2, "b"); err != nil {
		t.Fatal(err)
	}
	var won, lost atomic.Int64
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			a := store.Arrival{ConnectionID: fmt.Sprintf("n%d", i), At: clock.Now()}
			_, err := s.RestartBarrier(ctx, "k", 2, a, clock.Now().Add(time.Hour), first.Expires)
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, store.ErrConflict):
				lost.Add(1)
			default:
				t.Errorf("RestartBarrier: %v", err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || lost.Load() != 9 {
		t.Fatalf("concurrent restarts: %d won, %d got ErrConflict; want 1 and 9", won.Load(), lost.Load())
	}
}
