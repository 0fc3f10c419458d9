package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mulletgo/mullet/store"
)

// continuityCases are the cases of store.Continuity, run by Run for stores
// that implement it.
var continuityCases = []struct {
	name string
	fn   func(*testing.T, store.Continuity, *Clock)
}{
	{"Sessions", testSessions},
	{"SessionResumeRace", testSessionResumeRace},
	{"SessionState", testSessionState},
	{"Streams", testStreams},
	{"StreamWindow", testStreamWindow},
	{"StreamExpiry", testStreamExpiry},
	{"StreamLimit", testStreamLimit},
	{"AppendRetry", testAppendRetry},
	{"StreamConcurrentPublishers", testStreamConcurrent},
	{"Presence", testPresence},
	{"PresenceExpiry", testPresenceExpiry},
}

func continuity(t *testing.T, s store.Store) store.Continuity {
	t.Helper()
	c, ok := s.(store.Continuity)
	if !ok {
		t.Skipf("%T does not implement store.Continuity", s)
	}
	return c
}

var (
	hashA = bytes.Repeat([]byte{0xa}, 32)
	hashB = bytes.Repeat([]byte{0xb}, 32)
	hashC = bytes.Repeat([]byte{0xc}, 32)
)

func testSessions(t *testing.T, s store.Continuity, clock *Clock) {
	ctx := context.Background()
	if _, err := s.GetSession(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession(unknown) = %v, want ErrNotFound", err)
	}
	rec := store.Session{ID: "s1", SecretHash: hashA, ConnectionID: "c1", Authorizer: map[string]string{"user": "ann"}, Expires: clock.Now().Add(time.Hour)}
	if err := s.CreateSession(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, rec); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second CreateSession = %v, want ErrConflict", err)
	}
	got, err := s.GetSession(ctx, "s1")
	if err != nil || got.ConnectionID != "c1" || got.Authorizer["user"] != "ann" || !bytes.Equal(got.SecretHash, hashA) {
		t.Fatalf("GetSession = %+v, %v", got, err)
	}
	if err := s.SessionJoin(ctx, "s1", "room.a", store.Membership{At: store.Position{Epoch: "e", Offset: 7}, Presence: []byte(`{"nick":"ann"}`), Events: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.SessionJoin(ctx, "s1", "b", store.Membership{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SessionJoin(ctx, "nope", "b", store.Membership{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SessionJoin(unknown) = %v, want ErrNotFound", err)
	}
	// A forged secret is refused and changes nothing.
	if _, err := s.ResumeSession(ctx, "s1", hashB, hashC, "c2", clock.Now().Add(time.Hour)); !errors.Is(err, store.ErrDenied) {
		t.Fatalf("ResumeSession(forged) = %v, want ErrDenied", err)
	}
	if _, err := s.ResumeSession(ctx, "nope", hashA, hashC, "c2", clock.Now().Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ResumeSession(unknown) = %v, want ErrNotFound", err)
	}
	before, err := s.ResumeSession(ctx, "s1", hashA, hashB, "c2", clock.Now().Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if m := before.Groups["room.a"]; before.ConnectionID != "c1" || m.At != (store.Position{Epoch: "e", Offset: 7}) || string(m.Presence) != `{"nick":"ann"}` || !m.Events || len(before.Groups) != 2 || before.Groups["b"].Presence != nil {
		t.Fatalf("ResumeSession returned %+v, want the session as it was", before)
	}
	// A used secret is refused.
	if _, err := s.ResumeSession(ctx, "s1", hashA, hashC, "c3", clock.Now().Add(time.Hour)); !errors.Is(err, store.ErrDenied) {
		t.Fatalf("ResumeSession(reused) = %v, want ErrDenied", err)
	}
	got, _ = s.GetSession(ctx, "s1")
	if got.ConnectionID != "c2" || !bytes.Equal(got.SecretHash, hashB) {
		t.Fatalf("after resume: %+v", got)
	}
	// Detaching another connection changes nothing; the bound one detaches.
	if err := s.DetachSession(ctx, "s1", "c1", clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetSession(ctx, "s1"); got.ConnectionID != "c2" {
		t.Fatalf("DetachSession(old connection) changed the session: %+v", got)
	}
	if err := s.DetachSession(ctx, "s1", "c2", clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetSession(ctx, "s1"); got.ConnectionID != "" {
		t.Fatalf("after detach: %+v", got)
	}
	if err := s.SessionLeave(ctx, "s1", "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetSession(ctx, "s1"); len(got.Groups) != 1 {
		t.Fatalf("after SessionLeave: groups %v", got.Groups)
	}
	// A detached session expires.
	clock.Advance(time.Minute + time.Second)
	if _, err := s.GetSession(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession(expired) = %v, want ErrNotFound", err)
	}
	if _, err := s.ResumeSession(ctx, "s1", hashB, hashC, "c4", clock.Now().Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ResumeSession(expired) = %v, want ErrNotFound", err)
	}
	// Its ID can be taken again.
	if err := s.CreateSession(ctx, store.Session{ID: "s1", SecretHash: hashC, Expires: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("CreateSession over an expired one: %v", err)
	}
	if got, _ = s.GetSession(ctx, "s1"); len(got.Groups) != 0 || got.ConnectionID != "" {
		t.Fatalf("recreated session kept old data: %+v", got)
	}
	if err := s.DeleteSession(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after DeleteSession: %v", err)
	}
}

func testSessionResumeRace(t *testing.T, s store.Continuity, clock *Clock) {
	ctx := context.Background()
	if err := s.CreateSession(ctx, store.Session{ID: "race", SecretHash: hashA, Expires: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	wins := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			next := bytes.Repeat([]byte{byte(i + 1)}, 32)
			_, err := s.ResumeSession(ctx, "race", hashA, next, fmt.Sprintf("c%d", i), clock.Now().Add(time.Hour))
			switch {
			case err == nil:
				wins <- fmt.Sprintf("c%d", i)
			case !errors.Is(err, store.ErrDenied):
				t.Errorf("ResumeSession: %v", err)
			}
		})
	}
	wg.Wait()
	close(wins)
	var won []string
	for w := range wins {
		won = append(won, w)
	}
	if len(won) != 1 {
		t.Fatalf("%d resumes with one secret succeeded (%v), want exactly 1", len(won), won)
	}
	if got, _ := s.GetSession(ctx, "race"); got.ConnectionID != won[0] {
		t.Fatalf("session bound to %q, want the winner %q", got.ConnectionID, won[0])
	}
}

func testSessionState(t *testing.T, s store.Continuity, clock *Clock) {
	ctx := context.Background()
	if _, err := s.LoadSessionState(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadSessionState(unknown) = %v", err)
	}
	if err := s.CreateSession(ctx, store.Session{ID: "x", SecretHash: hashA, Expires: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	st, err := s.LoadSessionState(ctx, "x")
	if err != nil || st.Version != 0 || len(st.Data) != 0 {
		t.Fatalf("fresh state = %+v, %v", st, err)
	}
	v, err := s.SaveSessionState(ctx, "x", []byte(`{"nick":"ann"}`), 0)
	if err != nil || v != 1 {
		t.Fatalf("SaveSessionState = %d, %v", v, err)
	}
	if _, err := s.SaveSessionState(ctx, "x", []byte(`{}`), 0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale SaveSessionState = %v, want ErrConflict", err)
	}
	if _, err := s.SaveSessionState(ctx, "x", make([]byte, store.MaxItemSize), 1); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("huge SaveSessionState = %v, want ErrTooLarge", err)
	}
	// State survives a resume.
	if _, err := s.ResumeSession(ctx, "x", hashA, hashB, "c9", clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	st, err = s.LoadSessionState(ctx, "x")
	if err != nil || st.Version != 1 || string(st.Data) != `{"nick":"ann"}` {
		t.Fatalf("state after resume = %+v, %v", st, err)
	}
	if _, err := s.SaveSessionState(ctx, "nope", nil, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SaveSessionState(unknown) = %v", err)
	}
}

var streamOpts = store.StreamOptions{Window: 5, TTL: time.Minute}

func appendN(t *testing.T, s store.Continuity, stream string, from, n int) []store.StreamMessage {
	t.Helper()
	var out []store.StreamMessage
	for i := from; i < from+n; i++ {
		m, err := s.Append(context.Background(), stream, []byte(fmt.Sprintf("m%d", i)), streamOpts)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		out = append(out, m)
	}
	return out
}

func datas(ms []store.StreamMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Data))
	}
	return out
}

func testStreams(t *testing.T, s store.Continuity, clock *Clock) {
	ctx := context.Background()
	r, err := s.ReadStream(ctx, "g", store.Position{}, streamOpts)
	if err != nil || len(r.Messages) != 0 || !r.Tail.IsZero() || r.Discontinuity {
		t.Fatalf("ReadStream(empty) = %+v, %v", r, err)
	}
	if tail, err := s.StreamTail(ctx, "g"); err != nil || !tail.IsZero() {
		t.Fatalf("StreamTail(empty) = %+v, %v", tail, err)
	}
	ms := appendN(t, s, "g", 1, 3)
	for i, m := range ms {
		if m.Epoch == "" || m.Epoch != ms[0].Epoch || m.Offset != ms[0].Offset+int64(i) {
			t.Fatalf("positions %+v: want one epoch and dense offsets", ms)
		}
	}
	if tail, _ := s.StreamTail(ctx, "g"); tail != ms[2].Position {
		t.Fatalf("StreamTail = %+v, want %+v", tail, ms[2].Position)
	}
	r, err = s.ReadStream(ctx, "g", ms[0].Position, streamOpts)
	if err != nil || r.Discontinuity || !slices.Equal(datas(r.Messages), []string{"m2", "m3"}) || r.Tail != ms[2].Position {
		t.Fatalf("ReadStream(after first) = %+v, %v", r, err)
	}
	if r.Messages[0].Position != ms[1].Position {
		t.Fatalf("read position %+v, want %+v", r.Messages[0].Position, ms[1].Position)
	}
	r, _ = s.ReadStream(ctx, "g", ms[2].Position, streamOpts)
	if len(r.Messages) != 0 || r.Discontinuity {
		t.Fatalf("ReadStream(at tail) = %+v", r)
	}
	r, _ = s.ReadStream(ctx, "g", store.Position{}, streamOpts)
	if !slices.Equal(datas(r.Messages), []string{"m1", "m2", "m3"}) {
		t.Fatalf("ReadStream(zero) = %v", datas(r.Messages))
	}
	r, _ = s.ReadStream(ctx, "g", store.Position{Epoch: "other", Offset: 1}, streamOpts)
	if !r.Discontinuity || r.Tail != ms[2].Position {
		t.Fatalf("ReadStream(other epoch) = %+v, want a discontinuity", r)
	}
	// Streams are separate.
	if other := appendN(t, s, "h", 1, 1); other[0].Epoch == ms[0].Epoch {
		t.Fatalf("two streams share an epoch")
	}
	if _, err := s.Append(ctx, "g", make([]byte, store.MaxItemSize), streamOpts); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("huge Append = %v, want ErrTooLarge", err)
	}
	if tail, _ := s.StreamTail(ctx, "g"); tail != ms[2].Position {
		t.Fatalf("a refused Append moved the tail to %+v", tail)
	}
}

func testStreamWindow(t *testing.T, s store.Continuity, clock *Clock) {
	ctx := context.Background()
	ms := appendN(t, s, "w", 1, 8) // window 5: m4..m8 replayable
	r, err := s.ReadStream(ctx, "w", ms[2].Position, streamOpts)
	if err != nil || r.Discontinuity || !slices.Equal(datas(r.Messages), []string{"m4", "m5", "m6", "m7", "m8"}) {
		t.Fatalf("ReadStream(at window start) = %+v, %v", r, err)
	}
	r, _ = s.ReadStream(ctx, "w", ms[1].Position, streamOpts)
	if !r.Discontinuity || len(r.Messages) != 0 || r.Tail != ms[7].Position {
		t.Fatalf("ReadStream(behind the window) = %+v, want a discontinuity", r)
	}
	r, _ = s.ReadStream(ctx, "w", store.Position{}, streamOpts)
	if !slices.Equal(datas(r.Messages), []string{"m4", "m5", "m6", "m7", "m8"}) {
		t.Fatalf("ReadStream(zero) = %v, want the window", datas(r.Messages))
	}
}

func testStreamLimit(t *testing.T, s store.Continuity, clock *Clock) {
	ctx := context.Background()
	limited := streamOpts
	limited.Limit = 2
	read := func(after store.Position, opts store.StreamOptions) store.StreamRead {
		t.Helper()
		r, err := s.ReadStream(ctx, "l", after, opts)
		if err != nil {
			t.Fatalf("ReadStream(%+v, limit %d) = %v", after, opts.Limit, err)
		}
		return r
	}
	ms := appendN(t, s, "l", 1, 8) // window 5: m4..m8 replayable
	for _, tt := range []struct {
		after store.Position
		want  []string
		more  bool
	}{
		{store.Position{}, []string{"m4", "m5"}, true},
		{ms[4].Position, []string{"m6", "m7"}, true},
		{ms[6].Position, []string{"m8"}, false},
		{ms[7].Position, nil, false},
	} {
		r := read(tt.after, limited)
		if r.Discontinuity || !slices.Equal(datas(r.Messages), tt.want) || r.More != tt.more || r.Tail != ms[7].Position {
			t.Fatalf("ReadStream(%+v, limit 2) = %v more=%v %+v; want %v more=%v", tt.after, datas(r.Messages), r.More, r, tt.want, tt.more)
		}
	}
	if r := read(ms[1].Position, limited); !r.Discontinuity || r.More || len(r.Messages) != 0 {
		t.Fatalf("ReadStream(behind the window, limit 2) = %+v, want a discontinuity", r)
	}
	if r := read(store.Position{}, streamOpts); len(r.Messages) != 5 || r.More {
		t.Fatalf("ReadStream(no limit) = %v more=%v, want the window", datas(r.Messages), r.More)
	}
	// Expired messages at the front of the window do not count.
	clock.Advance(40 * time.Second)
	ms = append(ms, appendN(t, s, "l", 9, 3)...)
	clock.Advance(30 * time.Second) // m1..m8 expired; m9..m11 live
	if r := read(store.Position{}, limited); !slices.Equal(datas(r.Messages), []string{"m9", "m10"}) || !r.More {
		t.Fatalf("ReadStream(zero, limit 2) after m1..m8 expired = %v more=%v; want m9 m10, more", datas(r.Messages), r.More)
	}
	if r := read(ms[6].Position, limited); !r.Discontinuity {
		t.Fatalf("ReadStream(expired position, limit 2) = %+v, want a discontinuity", r)
	}
}

// testAppendRetry: an Append retried with the same AppendID after it was
// applied returns the message it added instead of adding it again;
// without an AppendID, or with another, each Append adds one.
func testAppendRetry(t *testing.T, s store.Continuity, clock *Clock) {
	ctx := context.Background()
	withID := func(id string) store.StreamOptions {
		o := streamOpts
		o.AppendID = id
		return o
	}
	first, err := s.Append(ctx, "r", []byte("m1"), withID("append-1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Append(ctx, "r", []byte("m1"), withID("append-1"))
	if err != nil || again.Position != first.Position || string(again.Data) != "m1" || !again.At.Equal(first.At) {
		t.Fatalf("a retried Append = %+v, %v; want the first one's message %+v", again, err, first)
	}
	second, err := s.Append(ctx, "r", []byte("m2"), withID("append-2"))
	if err != nil || second.Offset != first.Offset+1 {
		t.Fatalf("another Append = %+v, %v; want offset %d", second, err, first.Offset+1)
	}
	for range 2 {
		if _, err := s.Append(ctx, "r", []byte("m3"), streamOpts); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.ReadStream(ctx, "r", store.Position{}, streamOpts)
	if err != nil || !slices.Equal(datas(r.Messages), []string{"m1", "m2", "m3", "m3"}) {
		t.Fatalf("stream = %v, %v; want m1 m2 m3 m3 (Appends without an AppendID are never merged)", datas(r.Messages), err)
	}
}

func testStreamExpiry(t *testing.T, s store.Continuity, clock *Clock) {
	ctx := context.Background()
	first := appendN(t, s, "x", 1, 2)
	clock.Advance(40 * time.Second)
	second := appendN(t, s, "x", 3, 1)
	clock.Advance(30 * time.Second) // m1, m2 expired; m3 live
	r, _ := s.ReadStream(ctx, "x", first[0].Position, streamOpts)
	if !r.Discontinuity {
		t.Fatalf("ReadStream(expired position) = %+v, want a discontinuity", r)
	}
	r, _ = s.ReadStream(ctx, "x", first[1].Position, streamOpts)
	if r.Discontinuity || !slices.Equal(datas(r.Messages), []string{"m3"}) {
		t.Fatalf("ReadStream(last expired position) = %+v, want m3", r)
	}
	clock.Advance(time.Minute) // all expired: history is lost
	before, _ := s.StreamTail(ctx, "x")
	if before.Epoch != "" || before.Offset != second[0].Offset {
		t.Fatalf("StreamTail(all expired) = %+v, want no epoch and the last offset %d", before, second[0].Offset)
	}
	if r, _ := s.ReadStream(ctx, "x", before, streamOpts); r.Discontinuity || len(r.Messages) != 0 {
		t.Fatalf("ReadStream(after the expired tail) = %+v, want nothing", r)
	}
	third := appendN(t, s, "x", 4, 1)
	if third[0].Epoch == second[0].Epoch || third[0].Offset != before.Offset+1 {
		t.Fatalf("Append after the history expired = %+v, want a new epoch at offset %d", third[0].Position, before.Offset+1)
	}
	// A position taken from the expired tail reads the new epoch.
	if r, _ := s.ReadStream(ctx, "x", before, streamOpts); r.Discontinuity || !slices.Equal(datas(r.Messages), []string{"m4"}) {
		t.Fatalf("ReadStream(expired tail position) = %+v, want m4", r)
	}
	r, _ = s.ReadStream(ctx, "x", second[0].Position, streamOpts)
	if !r.Discontinuity || r.Tail != third[0].Position {
		t.Fatalf("ReadStream(old epoch) = %+v, want a discontinuity to %+v", r, third[0].Position)
	}
}

func testStreamConcurrent(t *testing.T, s store.Continuity, clock *Clock) {
	ctx := context.Background()
	const publishers, each = 8, 10
	opts := store.StreamOptions{Window: publishers * each, TTL: time.Hour}
	var wg sync.WaitGroup
	var mu sync.Mutex
	byOffset := map[int64]string{}
	for p := range publishers {
		wg.Go(func() {
			last := int64(0)
			for i := range each {
				data := fmt.Sprintf("p%d-%d", p, i)
				m, err := s.Append(ctx, "c", []byte(data), opts)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				if m.Offset <= last {
					t.Errorf("publisher %d got offset %d after %d", p, m.Offset, last)
				}
				last = m.Offset
				mu.Lock()
				if prev, dup := byOffset[m.Offset]; dup {
					t.Errorf("offset %d assigned twice: %s and %s", m.Offset, prev, data)
				}
				byOffset[m.Offset] = data
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r, err := s.ReadStream(ctx, "c", store.Position{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Messages) != publishers*each {
		t.Fatalf("read %d messages, want %d", len(r.Messages), publishers*each)
	}
	for i, m := range r.Messages {
		if m.Offset != r.Messages[0].Offset+int64(i) || byOffset[m.Offset] != string(m.Data) {
			t.Fatalf("message %d: %+v %q, assigned %q", i, m.Position, m.Data, byOffset[m.Offset])
		}
	}
}

func testPresence(t *testing.T, s store.Continuity, clock *Clock) {
	ctx := context.Background()
	exp := clock.Now().Add(time.Hour)
	prev, err := s.PutPresence(ctx, "room", store.Presence{Session: "s1", ConnectionID: "c1", Data: []byte(`{"nick":"ann"}`), Events: true, Expires: exp})
	if err != nil || prev != nil {
		t.Fatalf("first PutPresence = %+v, %v; want nil", prev, err)
	}
	prev, err = s.PutPresence(ctx, "room", store.Presence{Session: "s1", ConnectionID: "c2", Data: []byte(`{"nick":"ann"}`), Events: true, Expires: exp})
	if err != nil || prev == nil || prev.ConnectionID != "c1" {
		t.Fatalf("second PutPresence = %+v, %v; want the first", prev, err)
	}
	if _, err := s.PutPresence(ctx, "room", store.Presence{Session: "s2", ConnectionID: "c3", Expires: exp}); err != nil {
		t.Fatal(err)
	}
	live, expired, err := s.ListPresence(ctx, "room")
	if err != nil || len(live) != 2 || len(expired) != 0 || string(live[0].Data) != `{"nick":"ann"}` || !live[0].Events || live[1].Events {
		t.Fatalf("ListPresence = %+v, %+v, %v", live, expired, err)
	}
	if err := s.AwayPresence(ctx, "room", "s1", "c1", clock.Now().Add(5*time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AwayPresence(old connection) = %v, want ErrNotFound", err)
	}
	if _, err := s.LeavePresence(ctx, "room", "s1", store.PresenceCondition{ConnectionID: "c1"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LeavePresence(old connection) = %v, want ErrNotFound", err)
	}
	if _, err := s.LeavePresence(ctx, "room", "s1", store.PresenceCondition{Expired: true}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LeavePresence(Expired) of a live member = %v, want ErrNotFound", err)
	}
	p, err := s.LeavePresence(ctx, "room", "s2", store.PresenceCondition{})
	if err != nil || p.ConnectionID != "c3" {
		t.Fatalf("LeavePresence = %+v, %v", p, err)
	}
	if _, err := s.LeavePresence(ctx, "room", "s2", store.PresenceCondition{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second LeavePresence = %v, want ErrNotFound", err)
	}
	if live, _, _ := s.ListPresence(ctx, "empty"); len(live) != 0 {
		t.Fatalf("ListPresence(empty) = %v", live)
	}
}

func testPresenceExpiry(t *testing.T, s store.Continuity, clock *Clock) {
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, err := s.PutPresence(ctx, "g", store.Presence{Session: id, ConnectionID: "c" + id, Expires: clock.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	// a's connection went away: its grace period starts.
	if err := s.AwayPresence(ctx, "g", "a", "ca", clock.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(6 * time.Second)
	live, expired, err := s.ListPresence(ctx, "g")
	if err != nil || len(live) != 1 || live[0].Session != "b" || len(expired) != 1 || expired[0].Session != "a" {
		t.Fatalf("ListPresence after the grace period = %+v, %+v, %v", live, expired, err)
	}
	if err := s.AwayPresence(ctx, "g", "a", "ca", clock.Now().Add(5*time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AwayPresence(expired) = %v, want ErrNotFound", err)
	}
	// Many callers find a gone: exactly one removes it.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 6 {
		wg.Go(func() {
			_, err := s.LeavePresence(ctx, "g", "a", store.PresenceCondition{ConnectionID: "ca", Expired: true})
			switch {
			case err == nil:
				mu.Lock()
				wins++
				mu.Unlock()
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("LeavePresence: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d LeavePresence calls removed the expired member, want 1", wins)
	}
	// A returning member replacing its expired record sees it.
	if err := s.AwayPresence(ctx, "g", "b", "cb", clock.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	prev, err := s.PutPresence(ctx, "g", store.Presence{Session: "b", ConnectionID: "cb2", Expires: clock.Now().Add(time.Hour)})
	if err != nil || prev == nil || clock.Now().Before(prev.Expires) {
		t.Fatalf("PutPresence over an expired record = %+v, %v; want the expired record", prev, err)
	}
}
