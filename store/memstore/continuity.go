package memstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"time"

	"github.com/mulletgo/mullet/store"
)

var _ store.Continuity = (*Store)(nil)

// continuity holds the items of store.Continuity. Callers hold Store.mu.
type continuity struct {
	sessions map[string]*session
	streams  map[string][]memMsg // by stream, in offset order
	presence map[string]map[string]store.Presence
}

type memMsg struct {
	store.StreamMessage
	expires  time.Time
	appendID string
}

type session struct {
	rec store.Session
	versioned
}

func (s *Store) cont() *continuity {
	if s.c == nil {
		s.c = &continuity{
			sessions: make(map[string]*session),
			streams:  make(map[string][]memMsg),
			presence: make(map[string]map[string]store.Presence),
		}
	}
	return s.c
}

func expiredAt(exp, now time.Time) bool { return !exp.IsZero() && !now.Before(exp) }

func (s *Store) liveSession(id string, now time.Time) (*session, bool) {
	x, ok := s.cont().sessions[id]
	if !ok || expiredAt(x.rec.Expires, now) {
		return nil, false
	}
	return x, true
}

func cloneSession(r store.Session) store.Session {
	r.SecretHash = slices.Clone(r.SecretHash)
	r.Authorizer = cloneAuth(r.Authorizer)
	groups := make(map[string]store.Membership, len(r.Groups))
	for g, m := range r.Groups {
		m.Presence = slices.Clone(m.Presence)
		groups[g] = m
	}
	r.Groups = groups
	return r
}

// CreateSession implements store.Continuity.
func (s *Store) CreateSession(ctx context.Context, r store.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.liveSession(r.ID, s.now()); ok {
		return store.ErrConflict
	}
	s.cont().sessions[r.ID] = &session{rec: cloneSession(r)}
	return nil
}

// ResumeSession implements store.Continuity.
func (s *Store) ResumeSession(ctx context.Context, id string, secretHash, nextHash []byte, connectionID string, expires time.Time) (store.Session, error) {
	if err := ctx.Err(); err != nil {
		return store.Session{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.liveSession(id, s.now())
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	if !bytes.Equal(x.rec.SecretHash, secretHash) {
		return store.Session{}, store.ErrDenied
	}
	before := cloneSession(x.rec)
	x.rec.SecretHash = slices.Clone(nextHash)
	x.rec.ConnectionID = connectionID
	x.rec.Expires = expires
	return before, nil
}

// GetSession implements store.Continuity.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	if err := ctx.Err(); err != nil {
		return store.Session{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.liveSession(id, s.now())
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	return cloneSession(x.rec), nil
}

// DetachSession implements store.Continuity.
func (s *Store) DetachSession(ctx context.Context, id, connectionID string, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.liveSession(id, s.now())
	if !ok || x.rec.ConnectionID != connectionID {
		return nil
	}
	x.rec.ConnectionID = ""
	x.rec.Expires = expires
	return nil
}

// DeleteSession implements store.Continuity.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cont().sessions, id)
	return nil
}

// SessionJoin implements store.Continuity.
func (s *Store) SessionJoin(ctx context.Context, id, group string, m store.Membership) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.liveSession(id, s.now())
	if !ok {
		return store.ErrNotFound
	}
	if x.rec.Groups == nil {
		x.rec.Groups = map[string]store.Membership{}
	}
	m.Presence = slices.Clone(m.Presence)
	x.rec.Groups[group] = m
	return nil
}

// SessionLeave implements store.Continuity.
func (s *Store) SessionLeave(ctx context.Context, id, group string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if x, ok := s.liveSession(id, s.now()); ok {
		delete(x.rec.Groups, group)
	}
	return nil
}

// LoadSessionState implements store.Continuity.
func (s *Store) LoadSessionState(ctx context.Context, id string) (store.State, error) {
	return s.loadVersioned(ctx, s.sessionState(id))
}

// SaveSessionState implements store.Continuity.
func (s *Store) SaveSessionState(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	return s.saveVersioned(ctx, id, data, expect, s.sessionState(id))
}

// sessionState finds the state of the live session id.
func (s *Store) sessionState(id string) func(now time.Time) (*versioned, bool) {
	return func(now time.Time) (*versioned, bool) {
		x, ok := s.liveSession(id, now)
		if !ok {
			return nil, false
		}
		return &x.versioned, true
	}
}

// newEpoch returns a random epoch name.
func newEpoch() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// streamItemOverhead approximates a message item's key and attributes.
const streamItemOverhead = 96

// Append implements store.Continuity.
func (s *Store) Append(ctx context.Context, stream string, data []byte, opts store.StreamOptions) (store.StreamMessage, error) {
	if err := ctx.Err(); err != nil {
		return store.StreamMessage{}, err
	}
	if len(data)+len(stream)+streamItemOverhead > store.MaxItemSize {
		return store.StreamMessage{}, store.ErrTooLarge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	msgs := s.cont().streams[stream]
	if n := len(msgs); n > 0 && opts.AppendID != "" && msgs[n-1].appendID == opts.AppendID {
		out := msgs[n-1].StreamMessage // a retry of the newest message's Append
		out.Data = slices.Clone(out.Data)
		return out, nil
	}
	m := store.StreamMessage{Data: slices.Clone(data), At: now}
	if n := len(msgs); n > 0 {
		last := msgs[n-1]
		m.Offset = last.Offset + 1
		if !expiredAt(last.expires, now) {
			m.Epoch = last.Epoch
		}
	} else {
		m.Offset = 1
	}
	if m.Epoch == "" {
		m.Epoch = newEpoch()
	}
	msgs = append(msgs, memMsg{StreamMessage: m, expires: now.Add(opts.TTL), appendID: opts.AppendID})
	// Keep the window and a little more, so that memory stays bounded.
	if keep := max(opts.Window, 1) * 2; len(msgs) > keep {
		msgs = slices.Clone(msgs[len(msgs)-keep:])
	}
	s.cont().streams[stream] = msgs
	out := m
	out.Data = slices.Clone(m.Data)
	return out, nil
}

// liveWindow returns the live messages of the window of a stream. Their
// Data is the store's own: clone what leaves the store.
func (s *Store) liveWindow(stream string, opts store.StreamOptions, now time.Time) []store.StreamMessage {
	msgs := s.cont().streams[stream]
	if len(msgs) > opts.Window {
		msgs = msgs[len(msgs)-opts.Window:]
	}
	var out []store.StreamMessage
	for _, m := range msgs {
		if !expiredAt(m.expires, now) {
			out = append(out, m.StreamMessage)
		}
	}
	return out
}

// ReadStream implements store.Continuity.
func (s *Store) ReadStream(ctx context.Context, stream string, after store.Position, opts store.StreamOptions) (store.StreamRead, error) {
	if err := ctx.Err(); err != nil {
		return store.StreamRead{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	win := s.liveWindow(stream, opts, s.now())
	var tail store.Position
	if len(win) > 0 {
		tail = win[len(win)-1].Position
	}
	out := store.LimitRead(store.SelectAfter(win, after, tail), opts.Limit)
	for i := range out.Messages {
		out.Messages[i].Data = slices.Clone(out.Messages[i].Data)
	}
	return out, nil
}

// StreamTail implements store.Continuity.
func (s *Store) StreamTail(ctx context.Context, stream string) (store.Position, error) {
	if err := ctx.Err(); err != nil {
		return store.Position{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := s.cont().streams[stream]
	if len(msgs) == 0 {
		return store.Position{}, nil
	}
	if last := msgs[len(msgs)-1]; expiredAt(last.expires, s.now()) {
		return store.Position{Offset: last.Offset}, nil
	}
	return msgs[len(msgs)-1].Position, nil
}

// PutPresence implements store.Continuity.
func (s *Store) PutPresence(ctx context.Context, group string, p store.Presence) (*store.Presence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.cont().presence[group]
	if m == nil {
		m = make(map[string]store.Presence)
		s.cont().presence[group] = m
	}
	var prev *store.Presence
	if old, ok := m[p.Session]; ok {
		prev = &old
	}
	p.Data = slices.Clone(p.Data)
	m[p.Session] = p
	return prev, nil
}

// AwayPresence implements store.Continuity.
func (s *Store) AwayPresence(ctx context.Context, group, session, connectionID string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.cont().presence[group][session]
	if !ok || p.ConnectionID != connectionID || expiredAt(p.Expires, s.now()) {
		return store.ErrNotFound
	}
	p.Expires = until
	s.cont().presence[group][session] = p
	return nil
}

// LeavePresence implements store.Continuity.
func (s *Store) LeavePresence(ctx context.Context, group, session string, cond store.PresenceCondition) (store.Presence, error) {
	if err := ctx.Err(); err != nil {
		return store.Presence{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.cont().presence[group]
	p, ok := m[session]
	if !ok || cond.ConnectionID != "" && p.ConnectionID != cond.ConnectionID || cond.Expired && !expiredAt(p.Expires, s.now()) {
		return store.Presence{}, store.ErrNotFound
	}
	delete(m, session)
	if len(m) == 0 {
		delete(s.cont().presence, group)
	}
	return p, nil
}

// ListPresence implements store.Continuity.
func (s *Store) ListPresence(ctx context.Context, group string) (live, expired []store.Presence, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, p := range s.cont().presence[group] {
		p.Data = slices.Clone(p.Data)
		if expiredAt(p.Expires, now) {
			expired = append(expired, p)
		} else {
			live = append(live, p)
		}
	}
	byID := func(a, b store.Presence) int { return compareStrings(a.Session, b.Session) }
	slices.SortFunc(live, byID)
	slices.SortFunc(expired, byID)
	return live, expired, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
