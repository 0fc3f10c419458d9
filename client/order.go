package client

import "time"

// streams orders and de-duplicates the messages of durable groups by
// position (docs/protocol.md 5.5). It is not safe for concurrent use.
type streams struct {
	groups map[string]*stream
}

type stream struct {
	pos   Position
	known bool // pos is set
	buf   map[int64]Message
	// since is when the buffer last went from empty to waiting.
	since time.Time
	// asks counts the syncs sent while the group had no position.
	asks int
}

func newStreams() *streams { return &streams{groups: map[string]*stream{}} }

func (s *streams) get(group string) *stream {
	st := s.groups[group]
	if st == nil {
		st = &stream{buf: map[int64]Message{}}
		s.groups[group] = st
	}
	return st
}

// add takes a msg and returns what can now be delivered, in order.
func (s *streams) add(m Message, now time.Time) []Message {
	st := s.get(m.Group)
	if st.known && m.Position.Offset <= st.pos.Offset {
		return nil // a duplicate
	}
	if len(st.buf) == 0 {
		st.since = now
	}
	st.buf[m.Position.Offset] = m
	return st.drain()
}

func (st *stream) drain() []Message {
	if !st.known {
		return nil
	}
	var out []Message
	for {
		m, ok := st.buf[st.pos.Offset+1]
		if !ok || st.pos.Epoch != "" && m.Position.Epoch != st.pos.Epoch {
			break
		}
		delete(st.buf, st.pos.Offset+1)
		st.pos = m.Position
		out = append(out, m)
	}
	return out
}

// dropDelivered removes buffered messages at or before the position. Only
// placing a group can leave them (add refuses them once it is placed), so
// drain does not scan the buffer on every message.
func (st *stream) dropDelivered() {
	for off := range st.buf {
		if off <= st.pos.Offset {
			delete(st.buf, off)
		}
	}
}

// synced takes the position a synced frame gives for a group. A group that
// already has a position keeps its own. For one without, the replay that
// preceded synced is in the buffer: if the buffer holds the message at
// the given position, delivery starts before the run of messages that
// ends there, so that the replay is delivered whether the server names
// where the replay started or where it ended.
func (s *streams) synced(group string, p Position) []Message {
	st := s.get(group)
	if st.known {
		return st.drain()
	}
	if m, ok := st.buf[p.Offset]; ok && (p.Epoch == "" || m.Position.Epoch == p.Epoch) {
		start := p.Offset
		for {
			prev, ok := st.buf[start-1]
			if !ok || prev.Position.Epoch != m.Position.Epoch {
				break
			}
			start--
		}
		p = Position{Epoch: m.Position.Epoch, Offset: start - 1}
	}
	st.pos, st.known = p, true
	st.dropDelivered()
	return st.drain()
}

// discontinuity moves a group to a new position, dropping its buffer.
func (s *streams) discontinuity(group string, to Position) {
	st := s.get(group)
	st.pos, st.known = to, true
	clear(st.buf)
}

// waiting reports whether a group has had buffered messages waiting for
// a position or a gap for longer than d.
func (s *streams) waiting(now time.Time, d time.Duration) bool {
	for _, st := range s.groups {
		if len(st.buf) > 0 && now.Sub(st.since) >= d {
			return true
		}
	}
	return false
}

// restart marks every waiting buffer as waiting from now (a sync was
// just sent for them).
func (s *streams) restart(now time.Time) {
	for _, st := range s.groups {
		if len(st.buf) > 0 {
			st.since = now
			if !st.known {
				st.asks++
			}
		}
	}
}

// unplaced returns the groups with buffered messages and no position.
func (s *streams) unplaced() map[string]int {
	out := map[string]int{}
	for g, st := range s.groups {
		if !st.known && len(st.buf) > 0 {
			out[g] = st.asks
		}
	}
	return out
}

// positions returns the known positions, for a sync frame.
func (s *streams) positions() map[string]Position {
	out := map[string]Position{}
	for g, st := range s.groups {
		if st.known {
			out[g] = st.pos
		}
	}
	return out
}

// reset forgets every group (a new session).
func (s *streams) reset() { clear(s.groups) }
