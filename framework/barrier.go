package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/store"
)

// BarrierOptions configures a barrier. nil means defaults; the caller's
// struct is never modified.
type BarrierOptions struct {
	// Size is the party size n: the barrier releases when n distinct
	// connections have arrived under one key. Default 2, a pair; a size
	// of 1 or less is a mistake NewBarrier panics on.
	Size int
	// TTL is how long a barrier waits for its party. Default 10 minutes.
	TTL time.Duration
	// RestartAfterRelease makes a released barrier start a new generation
	// at the next arrival of a connection that is not in it: the newcomer
	// waits for a new party under the same key instead of being refused
	// (409) until the barrier's TTL runs out. Use it when a key names a
	// meeting that happens again (the same two peers pairing again under
	// their pairing name); leave it off when a key must be used once, so
	// that a latecomer learns at once that it missed the party. See Arrive.
	RestartAfterRelease bool
}

// Participant is one arrival at a barrier: who arrived and with what.
type Participant[P any] struct {
	ConnectionID string
	Payload      P
}

// Barrier is a rendezvous point: the first n-1 arrivals under a key wait
// (their invocations return at once; nothing polls) and the n-th arrival
// releases everyone, pushing each waiting participant its frame through
// @connections and answering itself. See Arrive for the guarantees.
type Barrier[P any] struct {
	name    string
	size    int
	ttl     time.Duration
	restart bool
	release func(to Participant[P], others []Participant[P]) any
	// timeout builds the frame of a participant still waiting when the
	// barrier expires; nil: they are not told.
	timeout func(to Participant[P]) any
	// declareTimeout records the timeout on the app's declaration.
	declareTimeout func(expire timeoutFunc)
}

// ErrBarrierFull matches the error Arrive returns when the barrier already
// holds its full party.
var ErrBarrierFull = store.ErrBarrierFull

// NewBarrier declares a barrier named name on app. release builds the frame
// each participant receives when the barrier completes, from that
// participant and the others; it is sent as JSON. opts may be nil. It
// panics on a size below 2, a nil release or a duplicate name.
func NewBarrier[S, P any](app *App[S], name string, release func(to Participant[P], others []Participant[P]) any, opts *BarrierOptions) *Barrier[P] {
	o := BarrierOptions{Size: 2}
	if opts != nil {
		o = *opts
		if o.Size == 0 {
			o.Size = 2
		}
	}
	if o.Size < 2 {
		panic(fmt.Sprintf("framework.NewBarrier(%q): Size must be at least 2, got %d", name, o.Size))
	}
	if release == nil {
		panic(fmt.Sprintf("framework.NewBarrier(%q): release func is nil; it builds the frame each participant receives", name))
	}
	for _, b := range app.barriers {
		if b.Name == name {
			panic(fmt.Sprintf("framework.NewBarrier(%q): declared twice", name))
		}
	}
	ttl := o.TTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	app.barriers = append(app.barriers, manifest.Barrier{Name: name, Size: o.Size, TTLSeconds: int64(ttl / time.Second)})
	b := &Barrier[P]{name: name, size: o.Size, ttl: ttl, restart: o.RestartAfterRelease, release: release}
	b.declareTimeout = func(expire timeoutFunc) {
		for i := range app.barriers {
			if app.barriers[i].Name == name {
				app.barriers[i].Timeout = true
			}
		}
		if app.timeouts == nil {
			app.timeouts = make(map[string]timeoutFunc)
		}
		app.timeouts[name] = expire
	}
	return b
}

// OnTimeout makes the barrier tell every participant still waiting when it
// expires (TTL after its first arrival): frame builds each one's frame,
// pushed as JSON through @connections. The expired barrier is gone; a later arrival
// under the same key starts a new one. Exactly one of the release and the
// timeout happens to a barrier, and each waiting participant gets one
// timeout frame.
//
// The timeout is delivered by the Runtime's Scheduler: the arrival that
// creates a barrier schedules one timer for it (EventBridge Scheduler in
// AWS, which infra/ provisions for an app that calls OnTimeout; the
// emulator's stand-in locally). An arrival that finds a barrier expired
// before its timer ran tells that barrier's participants itself.
//
// Call OnTimeout when declaring the app, before Bind. It panics if frame is
// nil or if it is called twice.
func (b *Barrier[P]) OnTimeout(frame func(to Participant[P]) any) *Barrier[P] {
	if frame == nil {
		panic(fmt.Sprintf("framework: barrier %q: OnTimeout(nil); pass the func that builds the timeout frame", b.name))
	}
	if b.timeout != nil {
		panic(fmt.Sprintf("framework: barrier %q: OnTimeout called twice", b.name))
	}
	b.timeout = frame
	b.declareTimeout(b.expire)
	return b
}

// expire is the barrier's timer: it removes the barrier generation that
// expires at expires if it is still waiting, and tells its participants.
func (b *Barrier[P]) expire(ctx context.Context, inv *Invocation, key string, expires time.Time) error {
	var st store.Barrier
	err := retryStore(ctx, func() error {
		var err error
		st, err = inv.rt.store.ExpireBarrier(ctx, b.name+"/"+key, expires)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		// Released, already expired by a later arrival, or replaced.
		return nil
	}
	if err != nil {
		return fmt.Errorf("framework: barrier %q: expire %q: %w", b.name, key, err)
	}
	b.tellExpired(ctx, inv, key, st.Arrivals)
	return nil
}

// tellExpired sends the timeout frame to the participants of an expired
// barrier. The barrier is already gone, so failures are logged rather than
// returned: a retry would find nothing to tell.
func (b *Barrier[P]) tellExpired(ctx context.Context, inv *Invocation, key string, arrivals []store.Arrival) {
	if o := observationFrom(ctx); o != nil {
		o.timeouts.Add(1)
	}
	for _, a := range arrivals {
		p := Participant[P]{ConnectionID: a.ConnectionID}
		err := json.Unmarshal(a.Payload, &p.Payload)
		if err == nil {
			err = inv.SendJSON(ctx, a.ConnectionID, b.timeout(p))
		}
		if err != nil && !errors.Is(err, ErrGone) {
			inv.rt.logger.Warn("could not tell a participant that its barrier timed out",
				"barrier", b.name, "key", key, "connectionId", a.ConnectionID, "error", err)
		}
	}
}

// Arrival is what Arrive did with the caller's arrival.
type Arrival struct {
	// Released reports that this arrival completed the party and released
	// everyone: each waiting participant got its frame, and the caller got
	// its own as the invocation's reply (so it must not reply again).
	// Otherwise the caller waits for the rest of the party.
	Released bool
	// Arrived is how many participants the barrier holds after this
	// arrival, the caller included: Size when released.
	Arrived int
	// Size is the barrier's party size.
	Size int
}

// rejoinRounds bounds how many times one invocation carries the live
// participants of a release that found someone gone into a newer
// generation (RestartAfterRelease). Each round needs a participant gone and
// a newcomer arriving inside the release, so the bound is never reached in
// practice; it keeps a hostile run from holding an invocation.
const rejoinRounds = 4

// restartRounds bounds the RestartBarrier attempts of one arrival: each
// lost attempt means the generation changed since the refusal (an
// eviction, or another newcomer's restart), and the arrival tries again.
const restartRounds = 3

// Arrive records the arrival of c, the caller (a handler's *Conn, or the
// *Invocation middleware has), at the barrier key with payload, and
// reports whether the caller waits or released the party, and how many
// have arrived: enough for a reply such as "waiting 1/3".
//
// The arrival is one conditional write to the store, which returns the
// barrier as written. If the party is not complete the caller waits: Arrive
// sends nothing and returns an Arrival with Released false. Exactly one
// arrival observes the write that completed the party, and that invocation
// releases everyone: each waiting participant gets its frame through
// @connections, then the caller gets its own as its reply (ReplyJSON). A
// participant found gone (410) is evicted, is never released, and the
// others keep waiting for a new arrival. Before releasing anyone the
// releaser checks with GetConnection that its own connection is still there
// (and, with more than two participants, everyone's), so that no one is
// released with a peer known to be gone.
//
// A second arrival of a connection that is in the barrier changes nothing
// and reports the barrier as it is (also after the release).
//
// An arrival at a full barrier (released, or being released) never waits
// and never polls. By default it is refused at once: the conditional write
// that found the barrier full is its only store operation (one request on
// DynamoDB, which returns the refused item; a write and a read on servers
// that ignore ReturnValuesOnConditionCheckFailure, such as DynamoDB Local
// before 2.2.0 or dynalite when mullet does not start it), and
// Arrive returns an *Error (409) wrapping ErrBarrierFull, which the
// framework turns into an error frame. What the app sees in the one window
// this gives up: while a release finds a participant gone and evicts it, a
// newcomer is refused (409) although a place is about to reopen; the
// remaining participants keep waiting, and the next arrival after the
// eviction takes the place.
//
// With BarrierOptions.RestartAfterRelease the newcomer instead starts a new
// generation of the barrier under the same key (RestartBarrier: one more
// conditional write) and waits in it. That also closes the window above: a
// release that finds a participant gone after a newcomer restarted the
// barrier carries the live participants into the new generation, where
// they meet the newcomer.
func (b *Barrier[P]) Arrive(ctx context.Context, c Caller, key string, payload P) (Arrival, error) {
	inv := c.invocation()
	data, err := json.Marshal(payload)
	if err != nil {
		return Arrival{Size: b.size}, fmt.Errorf("framework: barrier %q: encode payload: %w", b.name, err)
	}
	arrival := store.Arrival{ConnectionID: inv.ConnectionID(), Payload: data, At: inv.rt.now()}
	a, err := b.join(ctx, inv, key, arrival, rejoinRounds)
	a.Size = b.size
	return a, err
}

// join records arrival at the barrier key and releases the party if the
// write completed it. arrival is the caller's own, or, when a release
// carries a live participant into a newer generation, that participant's.
func (b *Barrier[P]) join(ctx context.Context, inv *Invocation, key string, arrival store.Arrival, rounds int) (Arrival, error) {
	storeKey := b.name + "/" + key
	// Milliseconds: the timer event carries the expiry in that unit, and
	// ExpireBarrier must name the same instant.
	expires := inv.rt.now().Add(b.ttl).Truncate(time.Millisecond)
	st, uncertain, err := b.admit(ctx, inv, storeKey, arrival, expires)
	if errors.Is(err, store.ErrBarrierFull) {
		return Arrival{Arrived: len(st.Arrivals)}, &Error{Status: http.StatusConflict, Err: err,
			Message: fmt.Sprintf("%s %q already has its %d participants", b.name, key, b.size)}
	}
	if err != nil {
		return Arrival{}, fmt.Errorf("framework: barrier %q: arrive: %w", b.name, err)
	}
	if b.timeout != nil {
		if len(st.Expired) > 0 {
			// This arrival replaced an expired barrier whose timer has
			// not run yet: it tells that barrier's participants.
			b.tellExpired(ctx, inv, key, st.Expired)
		}
		created := len(st.Arrivals) == 1 && (!st.Duplicate || uncertain)
		if created && !st.Complete() && inv.rt.scheduler != nil {
			if err := inv.rt.scheduleTimeout(ctx, inv, b.name, key, st.Expires); err != nil {
				// The arrival stands; without its timer the barrier's
				// participants are told only if a later arrival finds
				// it expired.
				inv.rt.logger.Error("could not schedule a barrier's timeout", "barrier", b.name, "key", key, "error", err)
			}
		}
	}
	waiting := Arrival{Arrived: len(st.Arrivals)}
	if !st.Complete() {
		return waiting, nil
	}
	if st.Duplicate {
		// A genuine second arrival of this connection changes nothing. But
		// if this invocation's own write timed out after being applied, the
		// duplicate is that write, and if it completed the barrier no one
		// else will release it. The store lists arrivals in write order, so
		// the completing arrival is the last one.
		last := st.Arrivals[len(st.Arrivals)-1]
		if !uncertain || last.ConnectionID != arrival.ConnectionID {
			return waiting, nil
		}
	}
	return b.releaseAll(ctx, inv, key, st, rounds)
}

// admit writes arrival: one Arrive. At a full barrier that is the answer
// (ErrBarrierFull, with the barrier as it is), unless the barrier restarts
// after a release: then RestartBarrier replaces the full generation the
// refusal returned, and if that generation changed meanwhile the arrival
// is tried again, at most restartRounds times. Nothing sleeps between
// these writes; only transient store failures are retried with backoff.
// uncertain reports that a write timed out and may have been applied.
func (b *Barrier[P]) admit(ctx context.Context, inv *Invocation, storeKey string, arrival store.Arrival, expires time.Time) (st store.Barrier, uncertain bool, err error) {
	write := func(op func() (store.Barrier, error)) error {
		return retryStore(ctx, func() error {
			var err error
			st, err = op()
			if ambiguous(err) {
				uncertain = true
			}
			return err
		})
	}
	arrive := func() (store.Barrier, error) {
		return inv.rt.store.Arrive(ctx, storeKey, b.size, arrival, expires)
	}
	err = write(arrive)
	for round := 0; b.restart && errors.Is(err, store.ErrBarrierFull) && round < restartRounds; round++ {
		prev := st.Expires
		err = write(func() (store.Barrier, error) {
			return inv.rt.store.RestartBarrier(ctx, storeKey, b.size, arrival, expires, prev)
		})
		if !errors.Is(err, store.ErrConflict) {
			return st, uncertain, err
		}
		// The generation changed since the refusal: arrive again.
		err = write(arrive)
	}
	return st, uncertain, err
}

// releaseAll releases the complete barrier st. If it finds a participant
// gone it evicts them instead and reports the caller waiting with those
// who remain; with RestartAfterRelease, remaining participants whose
// generation a newcomer replaced meanwhile are carried into the new one.
// The caller, the invocation's connection, is usually a participant; it is
// not when a release carries others into a newer generation after finding
// the caller gone, and then everyone is pushed to.
func (b *Barrier[P]) releaseAll(ctx context.Context, inv *Invocation, key string, st store.Barrier, rounds int) (Arrival, error) {
	all := make([]Participant[P], len(st.Arrivals))
	byID := make(map[string]store.Arrival, len(st.Arrivals))
	for i, a := range st.Arrivals {
		all[i].ConnectionID = a.ConnectionID
		byID[a.ConnectionID] = a
		if err := json.Unmarshal(a.Payload, &all[i].Payload); err != nil {
			return Arrival{}, fmt.Errorf("framework: barrier %q: decode payload of %s: %w", b.name, a.ConnectionID, err)
		}
	}
	me := inv.ConnectionID()
	_, selfIn := byID[me]
	waiting := make([]Participant[P], 0, len(all))
	for _, p := range all {
		if p.ConnectionID != me {
			waiting = append(waiting, p)
		}
	}
	// The releaser may itself be gone: API Gateway runs an invocation even
	// if its connection closed after sending the frame. Releasing others
	// from a gone releaser would pair them with a dead peer, so it checks
	// itself first, and with more than two participants everyone, since
	// releasing some and then finding another gone cannot be undone.
	var probe []Participant[P]
	if len(waiting) > 1 || !selfIn {
		probe = append(probe, waiting...)
	}
	if selfIn {
		probe = append(probe, Participant[P]{ConnectionID: me})
	}
	var gone []string
	for _, p := range probe {
		if _, err := inv.Info(ctx, p.ConnectionID); errors.Is(err, ErrGone) {
			gone = append(gone, p.ConnectionID)
		} else if err != nil {
			return Arrival{}, fmt.Errorf("framework: barrier %q: check %s: %w", b.name, p.ConnectionID, err)
		}
	}
	if len(gone) > 0 {
		return b.evictGone(ctx, inv, key, st, gone, rounds)
	}
	end := endNothing
	if traced(ctx) {
		ctx, end = startSpan(ctx, SpanBarrierRelease, b.name, attribute.String("mullet.barrier", b.name), attribute.Int("mullet.barrier.size", len(all)))
	}
	res, err := b.releaseWaiting(ctx, inv, key, st, all, waiting, selfIn, rounds)
	end(err)
	if o := observationFrom(ctx); o != nil && res.Released {
		o.releases.Add(1)
	}
	return res, err
}

// releaseWaiting sends the release frames of a complete barrier whose
// participants are all connected.
func (b *Barrier[P]) releaseWaiting(ctx context.Context, inv *Invocation, key string, st store.Barrier, all, waiting []Participant[P], selfIn bool, rounds int) (Arrival, error) {
	storeKey := b.name + "/" + key
	me := inv.ConnectionID()
	for _, p := range waiting {
		err := inv.SendJSON(ctx, p.ConnectionID, b.release(p, others(all, p.ConnectionID)))
		if errors.Is(err, ErrGone) {
			if len(waiting) == 1 {
				// The only peer is gone: the others keep waiting.
				return b.evictGone(ctx, inv, key, st, []string{p.ConnectionID}, rounds)
			}
			if _, err := b.evict(ctx, inv, storeKey, p.ConnectionID); err != nil {
				return Arrival{}, err
			}
			continue
		}
		if err != nil {
			return Arrival{}, fmt.Errorf("framework: barrier %q: release %s: %w", b.name, p.ConnectionID, err)
		}
	}
	if selfIn {
		self := Participant[P]{ConnectionID: me}
		for _, p := range all {
			if p.ConnectionID == me {
				self = p
			}
		}
		if err := inv.ReplyJSON(ctx, b.release(self, others(all, me))); err != nil {
			return Arrival{}, err
		}
	}
	return Arrival{Released: true, Arrived: len(all)}, nil
}

// evictGone evicts the participants of the complete barrier st found gone,
// before anyone was released, and reports the caller waiting with the
// others. With RestartAfterRelease, an eviction that finds its arrival
// missing may mean that a newcomer replaced the generation meanwhile; the
// remaining participants then arrive again on their own behalf (a duplicate
// changes nothing if they are still there), so that none is stranded in a
// generation that no longer exists.
func (b *Barrier[P]) evictGone(ctx context.Context, inv *Invocation, key string, st store.Barrier, gone []string, rounds int) (Arrival, error) {
	storeKey := b.name + "/" + key
	missing := false
	for _, id := range gone {
		found, err := b.evict(ctx, inv, storeKey, id)
		if err != nil {
			return Arrival{}, err
		}
		missing = missing || !found
	}
	var remaining []store.Arrival
	for _, a := range st.Arrivals {
		if !slices.Contains(gone, a.ConnectionID) {
			remaining = append(remaining, a)
		}
	}
	mine := Arrival{Arrived: len(remaining)}
	if !b.restart || !missing {
		return mine, nil
	}
	if rounds <= 1 {
		return mine, fmt.Errorf("framework: barrier %q: %q changed under %d releases that found participants gone; %d live participants may have to arrive again",
			b.name, key, rejoinRounds, len(remaining))
	}
	var errs []error
	for _, a := range remaining {
		got, err := b.join(ctx, inv, key, a, rounds-1)
		if a.ConnectionID == inv.ConnectionID() {
			mine = got
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return mine, errors.Join(errs...)
}

// evict removes a gone participant's arrival. found is false if the arrival
// was not there: a retried eviction that was applied before, or (with
// RestartAfterRelease) a generation replaced by a newcomer.
func (b *Barrier[P]) evict(ctx context.Context, inv *Invocation, storeKey, id string) (found bool, err error) {
	err = retryStore(ctx, func() error {
		_, err := inv.rt.store.Evict(ctx, storeKey, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("framework: barrier %q: evict gone participant %s: %w", b.name, id, err)
	}
	return true, nil
}

func others[P any](all []Participant[P], id string) []Participant[P] {
	out := make([]Participant[P], 0, len(all)-1)
	for _, p := range all {
		if p.ConnectionID != id {
			out = append(out, p)
		}
	}
	return out
}
