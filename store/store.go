package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every Store. Backends may wrap them; match with
// errors.Is.
var (
	// ErrNotFound: the connection, state or barrier arrival does not exist
	// or has expired.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a conditional write lost to a concurrent writer (the
	// state version moved on). Reload and retry.
	ErrConflict = errors.New("store: conflicting concurrent update")
	// ErrBarrierFull: the barrier already holds its full party.
	ErrBarrierFull = errors.New("store: barrier is full")
	// ErrTooLarge: the item would exceed the backend's item size limit
	// (DynamoDB: 400 KB). Nothing was written.
	ErrTooLarge = errors.New("store: item too large")
	// ErrThrottled: the backend kept refusing for capacity after bounded
	// retries.
	ErrThrottled = errors.New("store: throttled")
)

// MaxItemSize is DynamoDB's item size limit, which every backend enforces so
// that what fits on a laptop fits in AWS.
const MaxItemSize = 400 * 1024

// Connection is the record kept for each open connection.
type Connection struct {
	ID          string
	ConnectedAt time.Time
	SourceIP    string
	UserAgent   string
	// Authorizer is the context the app's $connect authorizer passed on
	// for this connection (nil if none), kept so that later invocations
	// see it, as API Gateway's requestContext.authorizer.
	Authorizer map[string]string
	// Identity is who API Gateway authenticated at $connect (an IAM
	// signature, an API key); zero when it authenticated neither. Later
	// events do not carry it (their identity has only the source IP), so
	// it is kept here.
	Identity Identity
	// Session is the ID of the session the connection is bound to, "" for
	// a plain connection.
	Session string
	// Expires is when the record, its state and its group memberships
	// expire. Reads treat expired items as absent.
	Expires time.Time
}

// Identity is the caller's identity as API Gateway fills
// requestContext.identity of a $connect event: the IAM principal that
// signed the upgrade, and the ID of the API key it sent. The API key's
// value is not kept: it is a secret, and its ID names it.
type Identity struct {
	AccessKey string
	AccountID string
	Caller    string
	User      string
	UserARN   string
	APIKeyID  string
}

// State is a connection's opaque state and its version. Version 0 means no
// state has been saved yet.
type State struct {
	Data    []byte
	Version int64
}

// Arrival is one participant's arrival at a barrier.
type Arrival struct {
	ConnectionID string
	Payload      []byte
	At           time.Time
}

// Barrier is the state of a barrier after a write.
type Barrier struct {
	Key  string
	Size int
	// Arrivals in the order their writes were applied. When the barrier
	// is complete, the last one is the arrival whose write completed it.
	Arrivals []Arrival
	// Duplicate reports that Arrive found the caller already present and
	// changed nothing.
	Duplicate bool
	// Expires is when the barrier stops waiting: set by the arrival that
	// created it, and passed back unchanged to ExpireBarrier.
	Expires time.Time
	// Expired is set by an Arrive that found the barrier key expired before
	// it completed and replaced it: the arrivals that waited in vain, so
	// that the caller can tell them. Each expired barrier's arrivals are
	// reported once, by whichever Arrive or ExpireBarrier removed it.
	Expired []Arrival
}

// Complete reports whether the barrier holds its full party.
func (b Barrier) Complete() bool { return len(b.Arrivals) >= b.Size }

// Store keeps connection records, state, groups and barriers. All methods
// are safe for concurrent use.
//
// Error contract: methods return nil, or an error matching one of ErrNotFound,
// ErrConflict, ErrBarrierFull, ErrTooLarge or ErrThrottled where documented,
// or another error for backend failures (network, permissions). A failed call
// changed nothing unless it says otherwise. Items past their Expires time are
// treated as absent by every read and by every condition.
type Store interface {
	// PutConnection records a connection at $connect. It overwrites a
	// record with the same ID.
	PutConnection(ctx context.Context, c Connection) error
	// GetConnection returns a connection's record, or ErrNotFound.
	GetConnection(ctx context.Context, id string) (Connection, error)
	// DeleteConnection removes a connection's record, its state and all its
	// group memberships. Deleting an absent connection is not an error.
	DeleteConnection(ctx context.Context, id string) error

	// LoadState returns a connection's state. A connection without saved
	// state gives State{} and nil; an unknown connection gives ErrNotFound.
	LoadState(ctx context.Context, id string) (State, error)
	// SaveState writes data if the stored version equals expect and
	// returns the new version. It returns ErrConflict if the version moved
	// on, ErrNotFound if the connection is gone, ErrTooLarge if the item
	// would exceed MaxItemSize.
	SaveState(ctx context.Context, id string, data []byte, expect int64) (int64, error)

	// JoinGroup adds a connection to a group until the connection's record
	// expires. Joining twice is not an error. An unknown connection gives
	// ErrNotFound.
	JoinGroup(ctx context.Context, group, id string) error
	// LeaveGroup removes a connection from a group. Leaving a group one is
	// not in is not an error.
	LeaveGroup(ctx context.Context, group, id string) error
	// GroupMembers lists the connection IDs in a group, in no particular
	// order.
	GroupMembers(ctx context.Context, group string) ([]string, error)

	// Arrive records an arrival at the barrier key of party size n with ONE
	// conditional write, creating the barrier (expiring at expires) if it is
	// absent or expired, and returns the barrier as written. A connection
	// already present gets the current barrier with Duplicate set and
	// nothing changes. A barrier that already holds n arrivals gives
	// ErrBarrierFull together with the barrier as it is (its arrivals and
	// Expires, which RestartBarrier names), from the refused write itself:
	// a refusal is one operation where the backend returns the refused item
	// (DynamoDB, with ReturnValuesOnConditionCheckFailure), and a write and
	// one read where it does not. Exactly one caller observes the write that made the
	// barrier complete, and its arrival is the last of Arrivals, also when
	// read back later (a caller whose write timed out can tell whether its
	// write was the completing one).
	Arrive(ctx context.Context, key string, size int, a Arrival, expires time.Time) (Barrier, error)
	// RestartBarrier starts a new generation of the barrier key, holding
	// only a and expiring at expires, in place of the complete barrier
	// whose Expires is prev (as a refused Arrive returned it), with ONE
	// conditional write, and returns the new barrier. The replaced
	// generation's arrivals are discarded: it was complete, so they were
	// released (or are being released by the invocation that completed it).
	// It returns ErrConflict if the barrier is not that complete generation
	// any more (a participant was evicted, another arrival restarted it, or
	// it is gone); the caller then arrives again.
	RestartBarrier(ctx context.Context, key string, size int, a Arrival, expires, prev time.Time) (Barrier, error)
	// Evict removes a connection's arrival from a barrier (a participant
	// found gone) and returns the barrier as written; ErrNotFound if the
	// arrival is not there.
	Evict(ctx context.Context, key, connectionID string) (Barrier, error)
	// ExpireBarrier removes the barrier key if it is the one that expires
	// at expires (Barrier.Expires as Arrive returned it) and it is not
	// complete, and returns it as it was: its arrivals are the participants
	// that waited in vain. It returns ErrNotFound if there is no such
	// barrier: it completed, was removed, or was replaced by a newer one.
	// It does not look at the clock; the caller calls it at expires.
	ExpireBarrier(ctx context.Context, key string, expires time.Time) (Barrier, error)
}

// ExpiredBarrierRetention is how long a store keeps a barrier past its
// Expires before deleting it by itself, so that the timer that calls
// ExpireBarrier at Expires still finds it, even when it runs late.
const ExpiredBarrierRetention = 15 * time.Minute
