package store

import (
	"context"
	"errors"
	"time"
)

// ErrDenied: a session's resume secret did not match (forged, or already
// used). Nothing was written.
var ErrDenied = errors.New("store: secret does not match")

// Position is a place in a stream: the offset of a message and the epoch
// of the stream it belongs to. Offsets of one epoch are dense: each Append
// takes the next one. The zero Position means "from the start of what is
// kept". A Position with an empty Epoch and an Offset N names the place
// before offset N+1 of whatever epoch comes next: what StreamTail gives for
// a stream with no live message, whose next message takes offset N+1.
type Position struct {
	Epoch  string
	Offset int64
}

// IsZero reports whether p is the zero Position.
func (p Position) IsZero() bool { return p.Epoch == "" && p.Offset == 0 }

// Session is the record of a session: what outlives its connections.
type Session struct {
	ID string
	// SecretHash is the SHA-256 of the current resume secret.
	SecretHash []byte
	// ConnectionID is the connection bound to the session, "" when none.
	ConnectionID string
	// Authorizer is the authorizer context of the connection that created
	// the session, carried to every connection that resumes it.
	Authorizer map[string]string
	// Groups are the groups the session is in.
	Groups map[string]Membership
	// Expires is when the session expires unless a connection resumes it.
	Expires time.Time
}

// Membership is a session's membership of a group.
type Membership struct {
	// At is the position the group's stream had when the session joined
	// (zero for plain groups and empty streams).
	At Position
	// Presence is the session's presence data in the group (JSON), nil if
	// the session is not present there.
	Presence []byte
	// Events reports that the session asked for presence events.
	Events bool
}

// StreamMessage is one message of a stream.
type StreamMessage struct {
	Position
	Data []byte
	At   time.Time
}

// StreamOptions bounds a stream's window (what Append keeps and ReadStream
// replays), and carries what one Append (AppendID) or one ReadStream
// (Limit) asks for.
type StreamOptions struct {
	// Window is how many of the newest messages can be replayed. Must be > 0.
	Window int
	// TTL is how long each message is kept. Must be > 0.
	TTL time.Duration
	// Limit, for ReadStream, is the most messages one read returns (the
	// oldest after the position asked for); 0 means no limit. A backend
	// reads only those, so a reader far behind pays for a page, not for
	// everything it missed, on each read.
	Limit int
	// AppendID, for Append, names this one message across the retries of
	// its Append, so that a write that was applied although its caller saw
	// an error (a 5xx or a timeout after the request left) is not applied
	// twice at two offsets: an Append that finds its AppendID on the
	// stream's newest message, or on the message at the offset it tried to
	// take, returns that message instead of adding another. A retry that
	// comes after other messages were appended is not recognised. Empty:
	// no such check.
	AppendID string
}

// StreamRead is the result of ReadStream.
type StreamRead struct {
	// Messages are the live messages after the position asked for, in
	// offset order, without gaps.
	Messages []StreamMessage
	// Tail is the position of the newest live message (zero if none).
	Tail Position
	// Discontinuity reports that the window no longer covers the position
	// asked for (or its epoch is gone): Messages is empty and the reader
	// should continue from Tail.
	Discontinuity bool
	// More reports that Messages stopped at StreamOptions.Limit: the stream
	// holds live messages after the last of them, up to Tail.
	More bool
}

// Presence is a session's presence in a group.
type Presence struct {
	Session      string
	ConnectionID string
	// Data is the app's presence data (JSON), or nil.
	Data []byte
	// Events reports that the member asked for join and leave events.
	Events bool
	// Expires is when the member leaves unless renewed: while connected,
	// the connection's expiry; once its connection went away, the end of
	// the grace period.
	Expires time.Time
}

// PresenceCondition restricts LeavePresence.
type PresenceCondition struct {
	// ConnectionID, if set, requires the member's connection to be this one.
	ConnectionID string
	// Expired requires the member to be past its Expires.
	Expired bool
}

// Continuity is what sessions, durable streams and presence need of a
// store. Backends implement it beside Store; it is a separate interface so
// that a Store that does not support continuity still serves apps that do
// not use it. All methods are safe for concurrent use.
//
// Error contract: as Store's, plus ErrDenied. A failed call changed
// nothing. Items past their expiry are absent to every read and condition,
// except where ListPresence says otherwise. No method needs transactions:
// each exactly-once decision is one conditional write on one item.
type Continuity interface {
	// CreateSession records a new session. It returns ErrConflict if a live
	// session has the ID (an expired one is replaced).
	CreateSession(ctx context.Context, s Session) error
	// ResumeSession binds connectionID to the session if its secret hash is
	// secretHash, replacing the hash with nextHash and the expiry with
	// expires, in one conditional write, and returns the session as it was
	// before (its ConnectionID is the connection it was bound to). It
	// returns ErrNotFound for an unknown or expired session and ErrDenied
	// for another hash; a hash matches once, since the write replaces it.
	ResumeSession(ctx context.Context, id string, secretHash, nextHash []byte, connectionID string, expires time.Time) (Session, error)
	// GetSession returns a session, or ErrNotFound.
	GetSession(ctx context.Context, id string) (Session, error)
	// DetachSession unbinds connectionID from the session and sets its
	// expiry, if the session is still bound to that connection; otherwise
	// (resumed since, or gone) it changes nothing and returns nil.
	DetachSession(ctx context.Context, id, connectionID string, expires time.Time) error
	// DeleteSession removes a session and its state. Deleting an absent
	// session is not an error.
	DeleteSession(ctx context.Context, id string) error
	// SessionJoin records that the session is in group. Joining again
	// overwrites the membership. ErrNotFound if the session is absent.
	SessionJoin(ctx context.Context, id, group string, m Membership) error
	// SessionLeave removes group from the session's groups. Not an error
	// if it is not there or the session is gone.
	SessionLeave(ctx context.Context, id, group string) error
	// LoadSessionState and SaveSessionState are LoadState and SaveState for
	// a session's state, with the same contract.
	LoadSessionState(ctx context.Context, id string) (State, error)
	SaveSessionState(ctx context.Context, id string, data []byte, expect int64) (int64, error)

	// Append adds a message to a stream and returns it with its position:
	// the offset after the newest message, in the newest message's epoch,
	// or a new epoch if the stream has no live message. The offset is taken
	// by one conditional write of the message itself, so concurrent Appends
	// get distinct, dense offsets and a failed Append leaves no gap. A
	// backend's own retries of that write never add the message twice;
	// retries by the caller do not either if they pass the same
	// opts.AppendID. It returns ErrTooLarge if the message cannot fit in an
	// item and ErrConflict if it lost to concurrent appends more times than
	// it retries.
	Append(ctx context.Context, stream string, data []byte, opts StreamOptions) (StreamMessage, error)
	// ReadStream returns the messages after the position after, within the
	// window (the newest opts.Window messages that are live), in offset
	// order, at most opts.Limit of them (if > 0; More tells there are more).
	// A zero after reads the whole window. A position the window no longer
	// covers, or of another epoch, gives Discontinuity.
	ReadStream(ctx context.Context, stream string, after Position, opts StreamOptions) (StreamRead, error)
	// StreamTail returns the position of the newest live message of a
	// stream; for a stream without a live message, a Position with an
	// empty Epoch and the offset the next message follows (zero if the
	// stream never had one).
	StreamTail(ctx context.Context, stream string) (Position, error)

	// PutPresence records p in group and returns the record it replaced,
	// expired or not, or nil if there was none. Exactly one of concurrent
	// PutPresence calls for one session sees a given previous record.
	PutPresence(ctx context.Context, group string, p Presence) (*Presence, error)
	// AwayPresence sets the expiry of session's presence in group to until,
	// if its connection is connectionID and it has not expired. ErrNotFound
	// otherwise.
	AwayPresence(ctx context.Context, group, session, connectionID string, until time.Time) error
	// LeavePresence removes session's presence from group if cond holds and
	// returns it as it was; ErrNotFound if it is absent or cond does not
	// hold. Of concurrent calls, at most one succeeds.
	LeavePresence(ctx context.Context, group, session string, cond PresenceCondition) (Presence, error)
	// ListPresence returns the live members of group and, separately, the
	// members past their expiry that are still recorded, so that the caller
	// can remove them with LeavePresence (Expired) and tell the others.
	ListPresence(ctx context.Context, group string) (live, expired []Presence, err error)
}

// SelectAfter is the reading rule of ReadStream, shared by backends: given
// the live messages of a stream's window in offset order and its tail, it
// returns those after the position after, or a discontinuity if the window
// does not reach back to after or after is of another epoch.
func SelectAfter(window []StreamMessage, after, tail Position) StreamRead {
	out := StreamRead{Tail: tail}
	switch {
	case after.IsZero():
		out.Messages = window
		return out
	case after.Epoch == "" && tail.IsZero():
		return out // nothing published since
	case after.Epoch != "" && (tail.IsZero() || after.Epoch != tail.Epoch):
		out.Discontinuity = true
		return out
	case after.Offset >= tail.Offset:
		return out
	}
	// The window must hold every offset after after.Offset, and nothing
	// in it may belong to another epoch.
	i := 0
	for i < len(window) && window[i].Offset <= after.Offset {
		i++
	}
	rest := window[i:]
	if len(rest) == 0 || rest[0].Offset != after.Offset+1 {
		out.Discontinuity = true
		return out
	}
	epoch := after.Epoch
	if epoch == "" {
		epoch = rest[0].Epoch
	}
	for j, m := range rest {
		if m.Epoch != epoch || m.Offset != after.Offset+1+int64(j) {
			out.Discontinuity = true
			return out
		}
	}
	out.Messages = rest
	return out
}

// LimitRead cuts r to at most limit messages (none if limit <= 0) and sets
// More if it cut any.
func LimitRead(r StreamRead, limit int) StreamRead {
	if limit > 0 && len(r.Messages) > limit {
		r.Messages = r.Messages[:limit:limit]
		r.More = true
	}
	return r
}
