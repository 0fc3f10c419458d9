package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

func TestInspect(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := memstore.New(&memstore.Options{Now: func() time.Time { return now }})
	hour := now.Add(time.Hour)
	for _, id := range []string{"b", "a", "gone"} {
		exp := hour
		if id == "gone" {
			exp = now.Add(-time.Second)
		}
		if err := s.PutConnection(ctx, store.Connection{ID: id, SourceIP: "127.0.0.1", Expires: exp, Authorizer: map[string]string{"user": id}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SaveState(ctx, "a", []byte(`{"n":1}`), 0); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b", "a"} {
		if err := s.JoinGroup(ctx, "room", id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Arrive(ctx, "pair", 2, store.Arrival{ConnectionID: "a", At: now}, hour); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, store.Session{ID: "s1", SecretHash: []byte("hash"), ConnectionID: "a", Expires: hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPresence(ctx, "room", store.Presence{Session: "s1", ConnectionID: "a", Expires: hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "room", []byte("hi"), store.StreamOptions{Window: 10, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}

	snap, err := s.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Connections) != 2 || snap.Connections[0].ID != "a" || string(snap.Connections[0].State.Data) != `{"n":1}` || snap.Connections[0].State.Version != 1 {
		t.Errorf("connections: %+v", snap.Connections)
	}
	if len(snap.Groups) != 1 || snap.Groups[0].Name != "room" || len(snap.Groups[0].Members) != 2 || snap.Groups[0].Members[0] != "a" {
		t.Errorf("groups: %+v", snap.Groups)
	}
	if len(snap.Barriers) != 1 || snap.Barriers[0].Key != "pair" || snap.Barriers[0].Complete() || len(snap.Barriers[0].Arrivals) != 1 {
		t.Errorf("barriers: %+v", snap.Barriers)
	}
	if len(snap.Sessions) != 1 || snap.Sessions[0].ID != "s1" || snap.Sessions[0].ConnectionID != "a" {
		t.Errorf("sessions: %+v", snap.Sessions)
	}
	if len(snap.Presence) != 1 || snap.Presence[0].Members[0].Session != "s1" {
		t.Errorf("presence: %+v", snap.Presence)
	}
	if len(snap.Streams) != 1 || snap.Streams[0].Messages != 1 || snap.Streams[0].Tail.Offset != 1 {
		t.Errorf("streams: %+v", snap.Streams)
	}

	// A snapshot is a copy: changing it changes nothing stored.
	snap.Connections[0].Authorizer["user"] = "changed"
	again, _ := s.Inspect(ctx)
	if again.Connections[0].Authorizer["user"] != "a" {
		t.Errorf("Inspect shares the stored authorizer map")
	}
}
