package storetest

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/mulletgo/mullet/store"
)

// testConnectionAuthorizer: the authorizer context of a connection is kept
// with its record, survives state saves and group changes, is not shared
// with the caller's map, and a record without one reads back nil.
func testConnectionAuthorizer(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	auth := map[string]string{"principalId": "ann", "role": "admin", "n": "42", "ok": "true", "empty": "", "uni": "é ∑ \u0000"}
	want := maps.Clone(auth)
	err := s.PutConnection(ctx, store.Connection{
		ID: "c1", ConnectedAt: clock.Now(), SourceIP: "192.0.2.1", UserAgent: "storetest",
		Authorizer: auth, Expires: clock.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	auth["role"] = "changed by the caller after PutConnection"
	if _, err := s.SaveState(ctx, "c1", []byte(`{"n":1}`), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.JoinGroup(ctx, "room", "c1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnection(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Authorizer, want) {
		t.Fatalf("Authorizer = %q, want %q", got.Authorizer, want)
	}
	got.Authorizer["role"] = "changed by the caller after GetConnection"
	if again, err := s.GetConnection(ctx, "c1"); err != nil || again.Authorizer["role"] != "admin" {
		t.Fatalf("stored context changed through a returned map: %q, %v", again.Authorizer, err)
	}

	put(t, s, clock, "c2")
	if got, err := s.GetConnection(ctx, "c2"); err != nil || got.Authorizer != nil {
		t.Fatalf("record without a context: Authorizer = %#v, %v; want nil", got.Authorizer, err)
	}
	// Overwriting a record replaces its context.
	put(t, s, clock, "c1")
	if got, err := s.GetConnection(ctx, "c1"); err != nil || got.Authorizer != nil {
		t.Fatalf("overwritten record: Authorizer = %#v, %v; want nil", got.Authorizer, err)
	}
}

// testConnectionIdentity: the caller identity of a connection ($connect's
// IAM principal and API key ID) is kept with its record, survives state
// saves and group changes, a record without one reads back zero, and
// overwriting a record replaces it.
func testConnectionIdentity(t *testing.T, s store.Store, clock *Clock) {
	ctx := context.Background()
	id := store.Identity{
		AccessKey: "AKIAIOSFODNN7EXAMPLE", AccountID: "123456789012", Caller: "AIDAEXAMPLE",
		User: "AIDAEXAMPLE", UserARN: "arn:aws:iam::123456789012:user/ann", APIKeyID: "k7x2c9q1ab",
	}
	err := s.PutConnection(ctx, store.Connection{
		ID: "c1", ConnectedAt: clock.Now(), SourceIP: "192.0.2.1", Identity: id, Expires: clock.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveState(ctx, "c1", []byte(`{"n":1}`), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.JoinGroup(ctx, "room", "c1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetConnection(ctx, "c1"); err != nil || got.Identity != id {
		t.Fatalf("Identity = %+v, %v; want %+v", got.Identity, err, id)
	}
	keyOnly := store.Identity{APIKeyID: "only"}
	if err := s.PutConnection(ctx, store.Connection{ID: "c3", ConnectedAt: clock.Now(), Identity: keyOnly, Expires: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetConnection(ctx, "c3"); err != nil || got.Identity != keyOnly {
		t.Fatalf("Identity = %+v, %v; want %+v", got.Identity, err, keyOnly)
	}
	put(t, s, clock, "c2")
	if got, err := s.GetConnection(ctx, "c2"); err != nil || got.Identity != (store.Identity{}) {
		t.Fatalf("record without an identity: %+v, %v; want zero", got.Identity, err)
	}
	put(t, s, clock, "c1")
	if got, err := s.GetConnection(ctx, "c1"); err != nil || got.Identity != (store.Identity{}) {
		t.Fatalf("overwritten record: Identity = %+v, %v; want zero", got.Identity, err)
	}
}
