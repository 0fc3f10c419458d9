package store

import (
	"context"
	"time"
)

// Inspector is what a dev-time view of a store (the dashboard of mullet
// dev) needs: everything the store holds, at one moment, read-only.
// Backends implement it beside Store where a full read is cheap (the
// in-memory store); it is optional and is never used by the runtime, whose
// reads stay keyed.
//
// Error contract: Inspect returns the snapshot, or an error for backend
// failures; it changes nothing. Expired items are left out, as every read
// treats them as absent.
type Inspector interface {
	// Inspect returns what the store holds now.
	Inspect(ctx context.Context) (Snapshot, error)
}

// Snapshot is what a store holds at one moment. Lists are sorted (by ID,
// name or key) so that two snapshots of the same contents are equal.
type Snapshot struct {
	// At is when the snapshot was taken.
	At time.Time
	// Connections are the live connection records with their state.
	Connections []ConnectionView
	// Groups are the groups with at least one live member.
	Groups []GroupView
	// Barriers are the barriers kept: waiting (fewer arrivals than their
	// size, not expired), complete (released), or expired and kept for
	// store.ExpiredBarrierRetention.
	Barriers []Barrier
	// Sessions are the live sessions, without their secret hash.
	Sessions []SessionView
	// Presence is, per group, its live presence members.
	Presence []GroupPresence
	// Streams are the durable streams with live messages.
	Streams []StreamView
}

// ConnectionView is a connection's record with its state.
type ConnectionView struct {
	Connection
	State State
}

// GroupView is a group and its members' connection IDs (sorted).
type GroupView struct {
	Name    string
	Members []string
}

// SessionView is a session as a dev-time view may show it: everything but
// its resume secret's hash, which it leaves out by construction.
type SessionView struct {
	ID string
	// ConnectionID is the connection bound to the session, "" while it is
	// away.
	ConnectionID string
	Authorizer   map[string]string
	Groups       map[string]Membership
	Expires      time.Time
	State        State
}

// GroupPresence is a group's presence members (sorted by session).
type GroupPresence struct {
	Group   string
	Members []Presence
}

// StreamView is a durable stream's live window.
type StreamView struct {
	Name     string
	Tail     Position
	Messages int
}
