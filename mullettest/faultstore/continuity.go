package faultstore

import (
	"context"
	"errors"
	"time"

	"github.com/mulletgo/mullet/store"
)

var _ store.Continuity = (*Store)(nil)

var errNoContinuity = errors.New("faultstore: the inner store does not implement store.Continuity")

// The store.Continuity methods pass through to the inner store without
// faults.

// CreateSession implements store.Continuity.
func (s *Store) CreateSession(ctx context.Context, r store.Session) error {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.CreateSession(ctx, r)
}

// ResumeSession implements store.Continuity.
func (s *Store) ResumeSession(ctx context.Context, id string, secretHash, nextHash []byte, connectionID string, expires time.Time) (store.Session, error) {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.Session{}, errNoContinuity
	}
	return c.ResumeSession(ctx, id, secretHash, nextHash, connectionID, expires)
}

// GetSession implements store.Continuity.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.Session{}, errNoContinuity
	}
	return c.GetSession(ctx, id)
}

// DetachSession implements store.Continuity.
func (s *Store) DetachSession(ctx context.Context, id, connectionID string, expires time.Time) error {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.DetachSession(ctx, id, connectionID, expires)
}

// DeleteSession implements store.Continuity.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.DeleteSession(ctx, id)
}

// SessionJoin implements store.Continuity.
func (s *Store) SessionJoin(ctx context.Context, id, group string, m store.Membership) error {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.SessionJoin(ctx, id, group, m)
}

// SessionLeave implements store.Continuity.
func (s *Store) SessionLeave(ctx context.Context, id, group string) error {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.SessionLeave(ctx, id, group)
}

// LoadSessionState implements store.Continuity.
func (s *Store) LoadSessionState(ctx context.Context, id string) (store.State, error) {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.State{}, errNoContinuity
	}
	return c.LoadSessionState(ctx, id)
}

// SaveSessionState implements store.Continuity.
func (s *Store) SaveSessionState(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return 0, errNoContinuity
	}
	return c.SaveSessionState(ctx, id, data, expect)
}

// Append implements store.Continuity.
func (s *Store) Append(ctx context.Context, stream string, data []byte, opts store.StreamOptions) (store.StreamMessage, error) {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.StreamMessage{}, errNoContinuity
	}
	return c.Append(ctx, stream, data, opts)
}

// ReadStream implements store.Continuity.
func (s *Store) ReadStream(ctx context.Context, stream string, after store.Position, opts store.StreamOptions) (store.StreamRead, error) {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.StreamRead{}, errNoContinuity
	}
	return c.ReadStream(ctx, stream, after, opts)
}

// StreamTail implements store.Continuity.
func (s *Store) StreamTail(ctx context.Context, stream string) (store.Position, error) {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.Position{}, errNoContinuity
	}
	return c.StreamTail(ctx, stream)
}

// PutPresence implements store.Continuity.
func (s *Store) PutPresence(ctx context.Context, group string, p store.Presence) (*store.Presence, error) {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return nil, errNoContinuity
	}
	return c.PutPresence(ctx, group, p)
}

// AwayPresence implements store.Continuity.
func (s *Store) AwayPresence(ctx context.Context, group, session, connectionID string, until time.Time) error {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.AwayPresence(ctx, group, session, connectionID, until)
}

// LeavePresence implements store.Continuity.
func (s *Store) LeavePresence(ctx context.Context, group, session string, cond store.PresenceCondition) (store.Presence, error) {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.Presence{}, errNoContinuity
	}
	return c.LeavePresence(ctx, group, session, cond)
}

// ListPresence implements store.Continuity.
func (s *Store) ListPresence(ctx context.Context, group string) ([]store.Presence, []store.Presence, error) {
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return nil, nil, errNoContinuity
	}
	return c.ListPresence(ctx, group)
}
