package storetest

import (
	"context"
	"errors"
	"time"

	"github.com/mulletgo/mullet/store"
)

var _ store.Continuity = (*Counter)(nil)

var errNoContinuity = errors.New("storetest: the inner store does not implement store.Continuity")

// The store.Continuity methods are counted like the others.

// CreateSession implements store.Continuity.
func (s *Counter) CreateSession(ctx context.Context, r store.Session) error {
	s.count("CreateSession")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.CreateSession(ctx, r)
}

// ResumeSession implements store.Continuity.
func (s *Counter) ResumeSession(ctx context.Context, id string, secretHash, nextHash []byte, connectionID string, expires time.Time) (store.Session, error) {
	s.count("ResumeSession")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.Session{}, errNoContinuity
	}
	return c.ResumeSession(ctx, id, secretHash, nextHash, connectionID, expires)
}

// GetSession implements store.Continuity.
func (s *Counter) GetSession(ctx context.Context, id string) (store.Session, error) {
	s.count("GetSession")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.Session{}, errNoContinuity
	}
	return c.GetSession(ctx, id)
}

// DetachSession implements store.Continuity.
func (s *Counter) DetachSession(ctx context.Context, id, connectionID string, expires time.Time) error {
	s.count("DetachSession")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.DetachSession(ctx, id, connectionID, expires)
}

// DeleteSession implements store.Continuity.
func (s *Counter) DeleteSession(ctx context.Context, id string) error {
	s.count("DeleteSession")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.DeleteSession(ctx, id)
}

// SessionJoin implements store.Continuity.
func (s *Counter) SessionJoin(ctx context.Context, id, group string, m store.Membership) error {
	s.count("SessionJoin")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.SessionJoin(ctx, id, group, m)
}

// SessionLeave implements store.Continuity.
func (s *Counter) SessionLeave(ctx context.Context, id, group string) error {
	s.count("SessionLeave")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.SessionLeave(ctx, id, group)
}

// LoadSessionState implements store.Continuity.
func (s *Counter) LoadSessionState(ctx context.Context, id string) (store.State, error) {
	s.count("LoadSessionState")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.State{}, errNoContinuity
	}
	return c.LoadSessionState(ctx, id)
}

// SaveSessionState implements store.Continuity.
func (s *Counter) SaveSessionState(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	s.count("SaveSessionState")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return 0, errNoContinuity
	}
	return c.SaveSessionState(ctx, id, data, expect)
}

// Append implements store.Continuity.
func (s *Counter) Append(ctx context.Context, stream string, data []byte, opts store.StreamOptions) (store.StreamMessage, error) {
	s.count("Append")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.StreamMessage{}, errNoContinuity
	}
	return c.Append(ctx, stream, data, opts)
}

// ReadStream implements store.Continuity.
func (s *Counter) ReadStream(ctx context.Context, stream string, after store.Position, opts store.StreamOptions) (store.StreamRead, error) {
	s.count("ReadStream")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.StreamRead{}, errNoContinuity
	}
	return c.ReadStream(ctx, stream, after, opts)
}

// StreamTail implements store.Continuity.
func (s *Counter) StreamTail(ctx context.Context, stream string) (store.Position, error) {
	s.count("StreamTail")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.Position{}, errNoContinuity
	}
	return c.StreamTail(ctx, stream)
}

// PutPresence implements store.Continuity.
func (s *Counter) PutPresence(ctx context.Context, group string, p store.Presence) (*store.Presence, error) {
	s.count("PutPresence")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return nil, errNoContinuity
	}
	return c.PutPresence(ctx, group, p)
}

// AwayPresence implements store.Continuity.
func (s *Counter) AwayPresence(ctx context.Context, group, session, connectionID string, until time.Time) error {
	s.count("AwayPresence")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return errNoContinuity
	}
	return c.AwayPresence(ctx, group, session, connectionID, until)
}

// LeavePresence implements store.Continuity.
func (s *Counter) LeavePresence(ctx context.Context, group, session string, cond store.PresenceCondition) (store.Presence, error) {
	s.count("LeavePresence")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return store.Presence{}, errNoContinuity
	}
	return c.LeavePresence(ctx, group, session, cond)
}

// ListPresence implements store.Continuity.
func (s *Counter) ListPresence(ctx context.Context, group string) ([]store.Presence, []store.Presence, error) {
	s.count("ListPresence")
	c, ok := s.inner.(store.Continuity)
	if !ok {
		return nil, nil, errNoContinuity
	}
	return c.ListPresence(ctx, group)
}
