package framework_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest/storetest"
)

// setClock moves clock to t (forward only).
func setClock(clock *storetest.Clock, t time.Time) { clock.Advance(t.Sub(clock.Now())) }

// recordingScheduler keeps what the app schedules; tests deliver the
// events themselves.
type recordingScheduler struct {
	mu     sync.Mutex
	timers []scheduledTimer
}

type scheduledTimer struct {
	name  string
	at    time.Time
	event []byte
}

func (s *recordingScheduler) Schedule(_ context.Context, name string, at time.Time, event []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.timers {
		if t.name == name {
			return nil
		}
	}
	s.timers = append(s.timers, scheduledTimer{name, at, event})
	return nil
}

func (s *recordingScheduler) all() []scheduledTimer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]scheduledTimer(nil), s.timers...)
}

type timeoutFrame struct {
	TimedOut string `json:"timedOut"`
}

// newTimeoutApp is newPartyApp with a one-minute TTL and a timeout frame.
func newTimeoutApp(n int) *framework.App[struct{}] {
	app := framework.New[struct{}]("party", nil)
	b := framework.NewBarrier(app, "party", func(to framework.Participant[string], others []framework.Participant[string]) any {
		ids := make([]string, len(others))
		for i, p := range others {
			ids[i] = p.Payload
		}
		return map[string]any{"me": to.Payload, "others": ids}
	}, &framework.BarrierOptions{Size: n, TTL: time.Minute}).OnTimeout(func(to framework.Participant[string]) any {
		return timeoutFrame{TimedOut: to.Payload}
	})
	framework.Handle(app, "arrive", func(ctx context.Context, c *framework.Conn[struct{}], m pairMsg) error {
		_, err := b.Arrive(ctx, c, m.Key, c.ConnectionID())
		return err
	}, nil)
	return app
}

// timeoutsOf returns the timeout frames id received, failing on any other.
func timeoutsOf(t *testing.T, h *harness, id string) int {
	t.Helper()
	n := 0
	for _, f := range h.api.framesOf(id) {
		var tf timeoutFrame
		if err := json.Unmarshal([]byte(f), &tf); err != nil || tf.TimedOut != id {
			t.Fatalf("%s got a frame that is not its timeout: %s", id, f)
		}
		n++
	}
	return n
}

func (h *harness) fire(tm scheduledTimer) events.APIGatewayProxyResponse {
	h.t.Helper()
	out, err := h.invokeRaw(tm.event)
	if err != nil {
		h.t.Fatalf("timer %s: %v", tm.name, err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func TestBarrierTimeout(t *testing.T) {
	clock := storetest.NewClock()
	clock.Advance(300 * time.Millisecond)
	start := clock.Now()
	sched := &recordingScheduler{}
	app := newTimeoutApp(3)
	if b := app.Manifest().Barriers[0]; !b.Timeout {
		t.Fatalf("manifest barrier %+v: want Timeout set", b)
	}
	h := newHarnessWith(t, app, clock.Now, sched)
	for _, id := range []string{"a", "b", "c"} {
		h.connect(id)
	}
	h.send("a", `{"action":"arrive","key":"k"}`)
	h.send("a", `{"action":"arrive","key":"k"}`) // duplicate: no second timer
	h.send("b", `{"action":"arrive","key":"k"}`) // not the creator: no timer
	timers := sched.all()
	if len(timers) != 1 {
		t.Fatalf("%d timers scheduled, want 1 (by the arrival that created the barrier)", len(timers))
	}
	// At the expiry, rounded up to EventBridge Scheduler's whole second.
	if want := start.Add(time.Minute).Truncate(time.Second).Add(time.Second); !timers[0].at.Equal(want) {
		t.Fatalf("timer at %v, want %v", timers[0].at, want)
	}
	var ev events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(timers[0].event, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.RequestContext.EventType != framework.TimerEventType || ev.RequestContext.DomainName == "" || ev.RequestContext.Stage == "" {
		t.Fatalf("timer event context %+v: want the timer event type and the scheduling event's domain and stage", ev.RequestContext)
	}

	setClock(clock, timers[0].at)
	if resp := h.fire(timers[0]); resp.StatusCode != http.StatusOK {
		t.Fatalf("timer status %d", resp.StatusCode)
	}
	if timeoutsOf(t, h, "a") != 1 || timeoutsOf(t, h, "b") != 1 {
		t.Fatalf("a got %q, b got %q; want one timeout frame each", h.api.framesOf("a"), h.api.framesOf("b"))
	}
	// A second delivery of the same timer (schedulers deliver at least
	// once) tells no one again.
	h.fire(timers[0])
	if timeoutsOf(t, h, "a") != 1 || timeoutsOf(t, h, "b") != 1 {
		t.Fatalf("a second delivery of the timer sent more frames: a %q b %q", h.api.framesOf("a"), h.api.framesOf("b"))
	}
	// The key is free again: c starts a new barrier, with its own timer,
	// which the old timer does not touch.
	h.send("c", `{"action":"arrive","key":"k"}`)
	if timers = sched.all(); len(timers) != 2 || timers[1].name == timers[0].name {
		t.Fatalf("timers after a new barrier: %+v", timers)
	}
	h.fire(timers[0])
	if got := h.api.framesOf("c"); len(got) != 0 {
		t.Fatalf("the old barrier's timer told the new barrier's participant: %q", got)
	}
}

func TestBarrierTimeoutAfterRelease(t *testing.T) {
	clock := storetest.NewClock()
	sched := &recordingScheduler{}
	h := newHarnessWith(t, newTimeoutApp(2), clock.Now, sched)
	h.connect("a")
	h.connect("b")
	h.send("a", `{"action":"arrive","key":"k"}`)
	h.send("b", `{"action":"arrive","key":"k"}`)
	timers := sched.all()
	if len(timers) != 1 {
		t.Fatalf("%d timers, want 1", len(timers))
	}
	setClock(clock, timers[0].at)
	h.fire(timers[0])
	if len(releasesOf(t, h, "a")) != 1 || len(releasesOf(t, h, "b")) != 1 {
		t.Fatal("want exactly the release frames and no timeout after a release")
	}
}

// TestBarrierTimeoutLateTimer: an arrival that finds the barrier expired
// before its timer ran tells the waiting participant itself; the late
// timer then tells no one twice.
func TestBarrierTimeoutLateTimer(t *testing.T) {
	clock := storetest.NewClock()
	sched := &recordingScheduler{}
	h := newHarnessWith(t, newTimeoutApp(2), clock.Now, sched)
	h.connect("a")
	h.connect("b")
	h.send("a", `{"action":"arrive","key":"k"}`)
	setClock(clock, clock.Now().Add(2*time.Minute))
	h.send("b", `{"action":"arrive","key":"k"}`)
	if timeoutsOf(t, h, "a") != 1 {
		t.Fatalf("a got %q; want its timeout from b's arrival", h.api.framesOf("a"))
	}
	if got := h.api.framesOf("b"); len(got) != 0 {
		t.Fatalf("b was paired with an expired participant: %q", got)
	}
	timers := sched.all()
	if len(timers) != 2 {
		t.Fatalf("%d timers, want 2 (one per barrier)", len(timers))
	}
	h.fire(timers[0])
	if timeoutsOf(t, h, "a") != 1 || len(h.api.framesOf("b")) != 0 {
		t.Fatalf("late timer: a %q b %q", h.api.framesOf("a"), h.api.framesOf("b"))
	}
}

// TestBarrierTimeoutRacesRelease: the timer and the completing arrival
// run at once, for many barriers. Each barrier is released or timed out,
// never both: the first arrival gets exactly one frame, and the second a
// release only if the first did.
func TestBarrierTimeoutRacesRelease(t *testing.T) {
	clock := storetest.NewClock()
	sched := &recordingScheduler{}
	h := newHarnessWith(t, newTimeoutApp(2), clock.Now, sched)
	const pairs = 40
	for i := range pairs {
		h.connect(fmt.Sprintf("a%d", i))
		h.connect(fmt.Sprintf("b%d", i))
		h.send(fmt.Sprintf("a%d", i), fmt.Sprintf(`{"action":"arrive","key":"k%d"}`, i))
	}
	timers := sched.all()
	if len(timers) != pairs {
		t.Fatalf("%d timers, want %d", len(timers), pairs)
	}
	// A nanosecond before the expiry (every barrier here expires at the
	// same instant: the clock stood still): the arrivals still count, and
	// the timers wait that nanosecond before expiring.
	var ev events.APIGatewayWebsocketProxyRequest
	var body struct{ Expires int64 }
	if err := json.Unmarshal(timers[0].event, &ev); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(ev.Body), &body); err != nil {
		t.Fatal(err)
	}
	setClock(clock, time.UnixMilli(body.Expires).Add(-time.Nanosecond))
	var wg sync.WaitGroup
	for i := range pairs {
		arrive := func() { h.send(fmt.Sprintf("b%d", i), fmt.Sprintf(`{"action":"arrive","key":"k%d"}`, i)) }
		fire := func() { h.fire(timers[i]) }
		switch i % 3 {
		case 0: // the timer first, then the arrival
			wg.Go(func() { fire(); arrive() })
		case 1: // the arrival first, then the timer
			wg.Go(func() { arrive(); fire() })
		default: // both at once
			wg.Go(arrive)
			wg.Go(fire)
		}
	}
	wg.Wait()
	released, timedOut := 0, 0
	for i := range pairs {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		fa, fb := h.api.framesOf(a), h.api.framesOf(b)
		if len(fa) != 1 {
			t.Fatalf("%s got %q, want exactly one frame", a, fa)
		}
		var tf timeoutFrame
		if json.Unmarshal([]byte(fa[0]), &tf) == nil && tf.TimedOut == a {
			timedOut++
			if len(fb) != 0 {
				t.Fatalf("%s timed out but %s got %q", a, b, fb)
			}
			continue
		}
		released++
		if len(releasesOf(t, h, b)) != 1 {
			t.Fatalf("%s released but %s got %q", a, b, fb)
		}
	}
	t.Logf("%d released, %d timed out", released, timedOut)
	if released == 0 || timedOut == 0 {
		t.Fatalf("%d released, %d timed out: want both outcomes", released, timedOut)
	}
}

func TestTimerEventBadInput(t *testing.T) {
	clock := storetest.NewClock()
	h := newHarnessWith(t, newTimeoutApp(2), clock.Now, &recordingScheduler{})
	event := func(body string) []byte {
		ev := events.APIGatewayWebsocketProxyRequest{Body: body}
		ev.RequestContext.EventType = framework.TimerEventType
		ev.RequestContext.RouteKey = framework.TimerRouteKey
		data, _ := json.Marshal(ev)
		return data
	}
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`not json`, http.StatusBadRequest},
		{`{"barrier":"nope","key":"k","expires":1}`, http.StatusNotFound},
		{fmt.Sprintf(`{"barrier":"party","key":"k","expires":%d}`, clock.Now().Add(time.Hour).UnixMilli()), http.StatusBadRequest},
		{fmt.Sprintf(`{"barrier":"party","key":"absent","expires":%d}`, clock.Now().UnixMilli()), http.StatusOK},
	} {
		out, err := h.invokeRaw(event(tc.body))
		var resp events.APIGatewayProxyResponse
		if err == nil {
			err = json.Unmarshal(out, &resp)
		}
		if err != nil || resp.StatusCode != tc.status {
			t.Errorf("timer body %s: status %d, %v; want %d", tc.body, resp.StatusCode, err, tc.status)
		}
	}
}
