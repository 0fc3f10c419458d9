package devstore

import (
	"context"
	"time"

	"github.com/mulletgo/mullet/store"
)

// The continuity side of the protocol (store.Continuity): one POST per
// method, as for store.Store.
type (
	sessionRequest struct {
		Session store.Session `json:"session"`
	}
	resumeRequest struct {
		ID           string    `json:"id"`
		SecretHash   []byte    `json:"secretHash"`
		NextHash     []byte    `json:"nextHash"`
		ConnectionID string    `json:"connectionId"`
		Expires      time.Time `json:"expires"`
	}
	detachRequest struct {
		ID           string    `json:"id"`
		ConnectionID string    `json:"connectionId"`
		Expires      time.Time `json:"expires"`
	}
	sessionGroupRequest struct {
		ID         string           `json:"id"`
		Group      string           `json:"group"`
		Membership store.Membership `json:"membership"`
	}
	appendRequest struct {
		Stream  string              `json:"stream"`
		Data    []byte              `json:"data"`
		Options store.StreamOptions `json:"options"`
	}
	readStreamRequest struct {
		Stream  string              `json:"stream"`
		After   store.Position      `json:"after"`
		Options store.StreamOptions `json:"options"`
	}
	presenceRequest struct {
		Group        string                  `json:"group"`
		Session      string                  `json:"session,omitempty"`
		ConnectionID string                  `json:"connectionId,omitempty"`
		Until        time.Time               `json:"until"`
		Presence     store.Presence          `json:"presence"`
		Condition    store.PresenceCondition `json:"condition"`
	}
	previousPresence struct {
		Previous *store.Presence `json:"previous"`
	}
	presenceList struct {
		Live    []store.Presence `json:"live"`
		Expired []store.Presence `json:"expired"`
	}
)

// continuityOps serves c's methods, or none when s has no continuity side.
func continuityOps(s store.Store) map[string]func(context.Context, []byte) (any, error) {
	c, ok := s.(store.Continuity)
	if !ok {
		return nil
	}
	return map[string]func(context.Context, []byte) (any, error){
		"CreateSession": op(func(ctx context.Context, r sessionRequest) (empty, error) {
			return empty{}, c.CreateSession(ctx, r.Session)
		}),
		"ResumeSession": op(func(ctx context.Context, r resumeRequest) (store.Session, error) {
			return c.ResumeSession(ctx, r.ID, r.SecretHash, r.NextHash, r.ConnectionID, r.Expires)
		}),
		"GetSession": op(func(ctx context.Context, r idRequest) (store.Session, error) {
			return c.GetSession(ctx, r.ID)
		}),
		"DetachSession": op(func(ctx context.Context, r detachRequest) (empty, error) {
			return empty{}, c.DetachSession(ctx, r.ID, r.ConnectionID, r.Expires)
		}),
		"DeleteSession": op(func(ctx context.Context, r idRequest) (empty, error) {
			return empty{}, c.DeleteSession(ctx, r.ID)
		}),
		"SessionJoin": op(func(ctx context.Context, r sessionGroupRequest) (empty, error) {
			return empty{}, c.SessionJoin(ctx, r.ID, r.Group, r.Membership)
		}),
		"SessionLeave": op(func(ctx context.Context, r sessionGroupRequest) (empty, error) {
			return empty{}, c.SessionLeave(ctx, r.ID, r.Group)
		}),
		"LoadSessionState": op(func(ctx context.Context, r idRequest) (store.State, error) {
			return c.LoadSessionState(ctx, r.ID)
		}),
		"SaveSessionState": op(func(ctx context.Context, r saveStateRequest) (versionResult, error) {
			v, err := c.SaveSessionState(ctx, r.ID, r.Data, r.Expect)
			return versionResult{v}, err
		}),
		"Append": op(func(ctx context.Context, r appendRequest) (store.StreamMessage, error) {
			return c.Append(ctx, r.Stream, r.Data, r.Options)
		}),
		"ReadStream": op(func(ctx context.Context, r readStreamRequest) (store.StreamRead, error) {
			return c.ReadStream(ctx, r.Stream, r.After, r.Options)
		}),
		"StreamTail": op(func(ctx context.Context, r readStreamRequest) (store.Position, error) {
			return c.StreamTail(ctx, r.Stream)
		}),
		"PutPresence": op(func(ctx context.Context, r presenceRequest) (previousPresence, error) {
			prev, err := c.PutPresence(ctx, r.Group, r.Presence)
			return previousPresence{prev}, err
		}),
		"AwayPresence": op(func(ctx context.Context, r presenceRequest) (empty, error) {
			return empty{}, c.AwayPresence(ctx, r.Group, r.Session, r.ConnectionID, r.Until)
		}),
		"LeavePresence": op(func(ctx context.Context, r presenceRequest) (store.Presence, error) {
			return c.LeavePresence(ctx, r.Group, r.Session, r.Condition)
		}),
		"ListPresence": op(func(ctx context.Context, r presenceRequest) (presenceList, error) {
			live, expired, err := c.ListPresence(ctx, r.Group)
			return presenceList{live, expired}, err
		}),
	}
}

var _ store.Continuity = (*Client)(nil)

// CreateSession implements store.Continuity.
func (c *Client) CreateSession(ctx context.Context, s store.Session) error {
	return c.call(ctx, "CreateSession", sessionRequest{s}, nil)
}

// ResumeSession implements store.Continuity.
func (c *Client) ResumeSession(ctx context.Context, id string, secretHash, nextHash []byte, connectionID string, expires time.Time) (store.Session, error) {
	var s store.Session
	err := c.call(ctx, "ResumeSession", resumeRequest{ID: id, SecretHash: secretHash, NextHash: nextHash, ConnectionID: connectionID, Expires: expires}, &s)
	return s, err
}

// GetSession implements store.Continuity.
func (c *Client) GetSession(ctx context.Context, id string) (store.Session, error) {
	var s store.Session
	err := c.call(ctx, "GetSession", idRequest{id}, &s)
	return s, err
}

// DetachSession implements store.Continuity.
func (c *Client) DetachSession(ctx context.Context, id, connectionID string, expires time.Time) error {
	return c.call(ctx, "DetachSession", detachRequest{ID: id, ConnectionID: connectionID, Expires: expires}, nil)
}

// DeleteSession implements store.Continuity.
func (c *Client) DeleteSession(ctx context.Context, id string) error {
	return c.call(ctx, "DeleteSession", idRequest{id}, nil)
}

// SessionJoin implements store.Continuity.
func (c *Client) SessionJoin(ctx context.Context, id, group string, m store.Membership) error {
	return c.call(ctx, "SessionJoin", sessionGroupRequest{ID: id, Group: group, Membership: m}, nil)
}

// SessionLeave implements store.Continuity.
func (c *Client) SessionLeave(ctx context.Context, id, group string) error {
	return c.call(ctx, "SessionLeave", sessionGroupRequest{ID: id, Group: group}, nil)
}

// LoadSessionState implements store.Continuity.
func (c *Client) LoadSessionState(ctx context.Context, id string) (store.State, error) {
	var st store.State
	err := c.call(ctx, "LoadSessionState", idRequest{id}, &st)
	return st, err
}

// SaveSessionState implements store.Continuity.
func (c *Client) SaveSessionState(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	var v versionResult
	err := c.call(ctx, "SaveSessionState", saveStateRequest{ID: id, Data: data, Expect: expect}, &v)
	return v.Version, err
}

// Append implements store.Continuity.
func (c *Client) Append(ctx context.Context, stream string, data []byte, opts store.StreamOptions) (store.StreamMessage, error) {
	var m store.StreamMessage
	err := c.call(ctx, "Append", appendRequest{Stream: stream, Data: data, Options: opts}, &m)
	return m, err
}

// ReadStream implements store.Continuity.
func (c *Client) ReadStream(ctx context.Context, stream string, after store.Position, opts store.StreamOptions) (store.StreamRead, error) {
	var r store.StreamRead
	err := c.call(ctx, "ReadStream", readStreamRequest{Stream: stream, After: after, Options: opts}, &r)
	return r, err
}

// StreamTail implements store.Continuity.
func (c *Client) StreamTail(ctx context.Context, stream string) (store.Position, error) {
	var p store.Position
	err := c.call(ctx, "StreamTail", readStreamRequest{Stream: stream}, &p)
	return p, err
}

// PutPresence implements store.Continuity.
func (c *Client) PutPresence(ctx context.Context, group string, p store.Presence) (*store.Presence, error) {
	var prev previousPresence
	err := c.call(ctx, "PutPresence", presenceRequest{Group: group, Presence: p}, &prev)
	return prev.Previous, err
}

// AwayPresence implements store.Continuity.
func (c *Client) AwayPresence(ctx context.Context, group, session, connectionID string, until time.Time) error {
	return c.call(ctx, "AwayPresence", presenceRequest{Group: group, Session: session, ConnectionID: connectionID, Until: until}, nil)
}

// LeavePresence implements store.Continuity.
func (c *Client) LeavePresence(ctx context.Context, group, session string, cond store.PresenceCondition) (store.Presence, error) {
	var p store.Presence
	err := c.call(ctx, "LeavePresence", presenceRequest{Group: group, Session: session, Condition: cond}, &p)
	return p, err
}

// ListPresence implements store.Continuity.
func (c *Client) ListPresence(ctx context.Context, group string) (live, expired []store.Presence, err error) {
	var l presenceList
	err = c.call(ctx, "ListPresence", presenceRequest{Group: group}, &l)
	return l.Live, l.Expired, err
}
