package lambdaruntime

import (
	"slices"
	"time"
)

// Stats counts a pool's instances and invocations. Latencies are measured
// from Invoke's call to the function's answer, as API Gateway would see
// them, over the most recent invocations.
type Stats struct {
	// Started counts the instances started: the cold starts.
	Started int
	// Running is the number of instances alive now; Idle of those are
	// waiting for an event.
	Running, Idle int
	// Invocations counts the invocations that got an answer or failed.
	Invocations int
	// Errors counts the invocations that failed.
	Errors int
	// Cold is the latency of the invocations that started an instance;
	// Warm of those served by a running instance. Failed invocations are
	// not included.
	Cold, Warm Latency
}

// Latency summarizes durations.
type Latency struct {
	// Count is the number of durations summarized, of all time.
	Count int
	// P50, P99 and Max are over the most recent latencyWindow durations.
	P50, P99, Max time.Duration
}

// latencyWindow is how many recent latencies a Latency summarizes.
const latencyWindow = 4096

type stats struct {
	started     int
	invocations int
	errors      int
	cold, warm  window
}

func (s *stats) record(cold bool, d time.Duration, failed bool) {
	s.invocations++
	switch {
	case failed:
		s.errors++
	case cold:
		s.cold.add(d)
	default:
		s.warm.add(d)
	}
}

// window keeps the most recent latencyWindow durations in a ring.
type window struct {
	count int
	ring  []time.Duration
}

func (w *window) add(d time.Duration) {
	if len(w.ring) < latencyWindow {
		w.ring = append(w.ring, d)
	} else {
		w.ring[w.count%latencyWindow] = d
	}
	w.count++
}

func (w *window) summary() Latency {
	l := Latency{Count: w.count}
	if len(w.ring) == 0 {
		return l
	}
	s := slices.Clone(w.ring)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	l.P50, l.P99, l.Max = at(0.50), at(0.99), s[len(s)-1]
	return l
}

// Stats returns the pool's counts so far.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Started:     p.stats.started,
		Running:     len(p.instances),
		Idle:        len(p.idle),
		Invocations: p.stats.invocations,
		Errors:      p.stats.errors,
		Cold:        p.stats.cold.summary(),
		Warm:        p.stats.warm.summary(),
	}
}
