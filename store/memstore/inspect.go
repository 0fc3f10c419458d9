package memstore

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/mulletgo/mullet/store"
)

var _ store.Inspector = (*Store)(nil)

// Inspect implements store.Inspector: a copy of everything the store holds
// that has not expired, taken under one lock.
func (s *Store) Inspect(ctx context.Context) (store.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return store.Snapshot{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	snap := store.Snapshot{At: now}
	for _, c := range s.conns {
		if expiredAt(c.rec.Expires, now) {
			continue
		}
		rec := c.rec
		rec.Authorizer = cloneAuth(rec.Authorizer)
		snap.Connections = append(snap.Connections, store.ConnectionView{Connection: rec, State: c.load()})
	}
	slices.SortFunc(snap.Connections, func(a, b store.ConnectionView) int { return strings.Compare(a.ID, b.ID) })
	for name, m := range s.groups {
		var members []string
		for id := range m {
			if c, ok := s.conns[id]; ok && !expiredAt(c.rec.Expires, now) {
				members = append(members, id)
			}
		}
		if len(members) == 0 {
			continue
		}
		slices.Sort(members)
		snap.Groups = append(snap.Groups, store.GroupView{Name: name, Members: members})
	}
	slices.SortFunc(snap.Groups, func(a, b store.GroupView) int { return strings.Compare(a.Name, b.Name) })
	for key, b := range s.barriers {
		if !now.Before(b.expires.Add(store.ExpiredBarrierRetention)) {
			continue
		}
		snap.Barriers = append(snap.Barriers, b.snapshot(key))
	}
	slices.SortFunc(snap.Barriers, func(a, b store.Barrier) int { return strings.Compare(a.Key, b.Key) })
	if s.c == nil {
		return snap, nil
	}
	for id, x := range s.c.sessions {
		if expiredAt(x.rec.Expires, now) {
			continue
		}
		r := cloneSession(x.rec)
		snap.Sessions = append(snap.Sessions, store.SessionView{
			ID: id, ConnectionID: r.ConnectionID, Authorizer: r.Authorizer,
			Groups: r.Groups, Expires: r.Expires, State: x.load(),
		})
	}
	slices.SortFunc(snap.Sessions, func(a, b store.SessionView) int { return strings.Compare(a.ID, b.ID) })
	for group, m := range s.c.presence {
		var members []store.Presence
		for _, p := range m {
			if expiredAt(p.Expires, now) {
				continue
			}
			p.Data = slices.Clone(p.Data)
			members = append(members, p)
		}
		if len(members) == 0 {
			continue
		}
		slices.SortFunc(members, func(a, b store.Presence) int { return strings.Compare(a.Session, b.Session) })
		snap.Presence = append(snap.Presence, store.GroupPresence{Group: group, Members: members})
	}
	slices.SortFunc(snap.Presence, func(a, b store.GroupPresence) int { return strings.Compare(a.Group, b.Group) })
	for _, name := range slices.Sorted(maps.Keys(s.c.streams)) {
		live := 0
		var tail store.Position
		for _, m := range s.c.streams[name] {
			if !expiredAt(m.expires, now) {
				live++
				tail = m.Position
			}
		}
		if live > 0 {
			snap.Streams = append(snap.Streams, store.StreamView{Name: name, Tail: tail, Messages: live})
		}
	}
	slices.SortFunc(snap.Streams, func(a, b store.StreamView) int { return cmp.Compare(a.Name, b.Name) })
	return snap, nil
}
