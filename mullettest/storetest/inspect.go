package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/mulletgo/mullet/store"
)

// testInspect checks store.Inspector, for a store that implements it: the
// snapshot holds the live items, sorted, and none that expired.
func testInspect(t *testing.T, s store.Store, clock *Clock) {
	in, ok := s.(store.Inspector)
	if !ok {
		t.Skip("the store does not implement store.Inspector")
	}
	ctx := context.Background()
	now := clock.Now()
	hour := now.Add(time.Hour)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"b", "a", "gone"} {
		exp := hour
		if id == "gone" {
			exp = now.Add(-time.Second)
		}
		must(s.PutConnection(ctx, store.Connection{ID: id, ConnectedAt: now, SourceIP: "192.0.2.1", Expires: exp, Authorizer: map[string]string{"user": id}}))
	}
	_, err := s.SaveState(ctx, "a", []byte(`{"n":1}`), 0)
	must(err)
	for _, id := range []string{"b", "a"} {
		must(s.JoinGroup(ctx, "room", id))
	}
	_, err = s.Arrive(ctx, "pair", 2, store.Arrival{ConnectionID: "a", At: now, Payload: []byte(`"x"`)}, hour)
	must(err)
	if c, ok := s.(store.Continuity); ok {
		must(c.CreateSession(ctx, store.Session{ID: "s1", SecretHash: []byte("hash"), ConnectionID: "a", Expires: hour}))
		_, err = c.PutPresence(ctx, "room", store.Presence{Session: "s1", ConnectionID: "a", Expires: hour})
		must(err)
		_, err = c.Append(ctx, "room", []byte("hi"), store.StreamOptions{Window: 10, TTL: time.Hour})
		must(err)
	}

	snap, err := in.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Connections) != 2 || snap.Connections[0].ID != "a" || string(snap.Connections[0].State.Data) != `{"n":1}` ||
		snap.Connections[0].State.Version != 1 || snap.Connections[0].Authorizer["user"] != "a" || snap.Connections[1].ID != "b" {
		t.Errorf("connections: %+v", snap.Connections)
	}
	if len(snap.Groups) != 1 || snap.Groups[0].Name != "room" || len(snap.Groups[0].Members) != 2 || snap.Groups[0].Members[0] != "a" {
		t.Errorf("groups: %+v", snap.Groups)
	}
	if len(snap.Barriers) != 1 || snap.Barriers[0].Key != "pair" || snap.Barriers[0].Complete() || len(snap.Barriers[0].Arrivals) != 1 ||
		snap.Barriers[0].Arrivals[0].ConnectionID != "a" || string(snap.Barriers[0].Arrivals[0].Payload) != `"x"` {
		t.Errorf("barriers: %+v", snap.Barriers)
	}
	if _, ok := s.(store.Continuity); ok {
		if len(snap.Sessions) != 1 || snap.Sessions[0].ID != "s1" || snap.Sessions[0].ConnectionID != "a" {
			t.Errorf("sessions: %+v", snap.Sessions)
		}
		if len(snap.Presence) != 1 || snap.Presence[0].Group != "room" || snap.Presence[0].Members[0].Session != "s1" {
			t.Errorf("presence: %+v", snap.Presence)
		}
		if len(snap.Streams) != 1 || snap.Streams[0].Name != "room" || snap.Streams[0].Messages != 1 || snap.Streams[0].Tail.Offset != 1 {
			t.Errorf("streams: %+v", snap.Streams)
		}
	}

	// A snapshot is a copy: changing it changes nothing stored.
	snap.Connections[0].Authorizer["user"] = "changed"
	again, err := in.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Connections[0].Authorizer["user"] != "a" {
		t.Errorf("Inspect shares the stored authorizer map")
	}
}
