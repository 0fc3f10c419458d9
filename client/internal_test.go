package client

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	lowest := func(d time.Duration) time.Duration { return 0 }
	highest := func(d time.Duration) time.Duration { return d - 1 }
	min, max := 100*time.Millisecond, 2*time.Second
	for n := 1; n <= 12; n++ {
		lo, hi := backoff(n, min, max, lowest), backoff(n, min, max, highest)
		d := min << (n - 1)
		if d > max || d <= 0 {
			d = max
		}
		if lo != d/2 || hi != d {
			t.Errorf("attempt %d: waits between %v and %v, want %v and %v", n, lo, hi, d/2, d)
		}
	}
}

func msg(group, epoch string, off int64) Message {
	return Message{Kind: KindDurable, Group: group, Position: Position{Epoch: epoch, Offset: off}, Data: []byte{byte('0' + off)}}
}

func offsets(ms []Message) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.Position.Offset)
	}
	return out
}

func TestStreams(t *testing.T) {
	now := time.Now()
	t.Run("buffer until synced names where the replay started", func(t *testing.T) {
		s := newStreams()
		for _, off := range []int64{5, 4, 6} {
			if got := s.add(msg("g", "e", off), now); len(got) != 0 {
				t.Fatalf("delivered %v before a position", offsets(got))
			}
		}
		if got := offsets(s.synced("g", Position{"e", 3})); len(got) != 3 || got[0] != 4 || got[2] != 6 {
			t.Fatalf("delivered %v", got)
		}
		if got := s.add(msg("g", "e", 5), now); len(got) != 0 {
			t.Fatalf("a duplicate was delivered: %v", offsets(got))
		}
	})
	t.Run("or where it ended", func(t *testing.T) {
		s := newStreams()
		s.add(msg("g", "e", 4), now)
		s.add(msg("g", "e", 5), now)
		if got := offsets(s.synced("g", Position{"e", 5})); len(got) != 2 {
			t.Fatalf("delivered %v, want 4 and 5", got)
		}
	})
	t.Run("gap waits, then fills", func(t *testing.T) {
		s := newStreams()
		s.synced("g", Position{"e", 1})
		s.add(msg("g", "e", 3), now)
		if !s.waiting(now.Add(time.Second), 500*time.Millisecond) {
			t.Fatal("a gap is not reported")
		}
		if got := offsets(s.add(msg("g", "e", 2), now)); len(got) != 2 {
			t.Fatalf("delivered %v", got)
		}
		if s.waiting(now.Add(time.Second), 500*time.Millisecond) {
			t.Fatal("no gap is left")
		}
	})
	t.Run("another epoch waits for a discontinuity", func(t *testing.T) {
		s := newStreams()
		s.synced("g", Position{"e", 1})
		if got := s.add(msg("g", "f", 2), now); len(got) != 0 {
			t.Fatalf("delivered %v across epochs", offsets(got))
		}
		s.discontinuity("g", Position{"f", 7})
		if got := offsets(s.add(msg("g", "f", 8), now)); len(got) != 1 {
			t.Fatalf("delivered %v", got)
		}
	})
	t.Run("an empty epoch accepts any epoch", func(t *testing.T) {
		s := newStreams()
		s.synced("g", Position{"", 0})
		if got := offsets(s.add(msg("g", "x", 1), now)); len(got) != 1 {
			t.Fatalf("delivered %v", got)
		}
	})
}

func TestKeys(t *testing.T) {
	k := newKeys()
	if len(k.id) < 22 {
		t.Fatalf("session ID %q is short", k.id)
	}
	k.unanswered("a")
	k.unanswered("b")
	if !k.refused() || k.secret != "a" || !k.refused() || k.secret != "b" || k.refused() {
		t.Fatalf("candidates are not tried in order: %+v", k)
	}
	k.accepted("c")
	if k.secret != "c" || len(k.candidates) != 0 {
		t.Fatalf("%+v", k)
	}
}
