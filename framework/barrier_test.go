package framework_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mulletgo/mullet/framework"
)

type pairMsg struct {
	Key string `json:"key" schema:"minLength=1"`
}

// newPartyApp declares an app whose "arrive" route joins a barrier of size
// n; each participant is released with the sorted IDs of the others.
func newPartyApp(n int) *framework.App[struct{}] {
	app := framework.New[struct{}]("party", nil)
	b := framework.NewBarrier(app, "party", func(to framework.Participant[string], others []framework.Participant[string]) any {
		ids := make([]string, len(others))
		for i, p := range others {
			ids[i] = p.Payload
		}
		sort.Strings(ids)
		return map[string]any{"me": to.Payload, "others": ids}
	}, &framework.BarrierOptions{Size: n})
	framework.Handle(app, "arrive", func(ctx context.Context, c *framework.Conn[struct{}], m pairMsg) error {
		_, err := b.Arrive(ctx, c, m.Key, c.ConnectionID())
		return err
	}, nil)
	return app
}

type release struct {
	Me     string   `json:"me"`
	Others []string `json:"others"`
}

func releasesOf(t *testing.T, h *harness, id string) []release {
	t.Helper()
	var out []release
	for _, f := range h.api.framesOf(id) {
		var r release
		if err := json.Unmarshal([]byte(f), &r); err != nil || r.Me == "" {
			t.Fatalf("%s got a frame that is not a release: %s", id, f)
		}
		out = append(out, r)
	}
	return out
}

func TestBarrierPair(t *testing.T) {
	h := newHarness(t, newPartyApp(2))
	for _, id := range []string{"a", "b", "c"} {
		h.connect(id)
	}
	h.send("a", `{"action":"arrive","key":"k"}`)
	if got := h.api.framesOf("a"); len(got) != 0 {
		t.Fatalf("first arrival received %q before its peer came", got)
	}
	// A duplicate arrival changes nothing and sends nothing.
	h.send("a", `{"action":"arrive","key":"k"}`)
	if got := h.api.framesOf("a"); len(got) != 0 {
		t.Fatalf("duplicate arrival produced %q", got)
	}
	h.send("b", `{"action":"arrive","key":"k"}`)
	ra, rb := releasesOf(t, h, "a"), releasesOf(t, h, "b")
	if len(ra) != 1 || len(rb) != 1 || ra[0].Others[0] != "b" || rb[0].Others[0] != "a" {
		t.Fatalf("releases a=%+v b=%+v", ra, rb)
	}
	// A third arrival gets a clear error frame.
	resp := h.send("c", `{"action":"arrive","key":"k"}`)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("third arrival status %d", resp.StatusCode)
	}
	frames := h.api.framesOf("c")
	if len(frames) != 1 || !strings.Contains(decodeErrorFrame(t, frames[0]).Message, "already has its 2 participants") {
		t.Fatalf("third arrival frames %q", frames)
	}
}

func TestBarrierGonePeerIsEvicted(t *testing.T) {
	h := newHarness(t, newPartyApp(2))
	for _, id := range []string{"a", "b", "c"} {
		h.connect(id)
	}
	h.send("a", `{"action":"arrive","key":"k"}`)
	h.api.setGone("a") // a disconnects before its peer comes
	h.send("b", `{"action":"arrive","key":"k"}`)
	if got := h.api.framesOf("b"); len(got) != 0 {
		t.Fatalf("b was released with a gone peer: %q", got)
	}
	// b keeps waiting and pairs with the next arrival.
	h.send("c", `{"action":"arrive","key":"k"}`)
	rb, rc := releasesOf(t, h, "b"), releasesOf(t, h, "c")
	if len(rb) != 1 || len(rc) != 1 || rb[0].Others[0] != "c" || rc[0].Others[0] != "b" {
		t.Fatalf("releases b=%+v c=%+v", rb, rc)
	}
}

func TestBarrierFiveParties(t *testing.T) {
	const n = 5
	h := newHarness(t, newPartyApp(n))
	ids := []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6"}
	for _, id := range ids {
		h.connect(id)
	}
	// p1 arrives and leaves; it must be evicted, never released.
	for _, id := range ids[:4] {
		h.send(id, `{"action":"arrive","key":"five"}`)
	}
	h.api.setGone("p1")
	h.send("p4", `{"action":"arrive","key":"five"}`)
	for _, id := range ids[:5] {
		if got := h.api.framesOf(id); len(got) != 0 {
			t.Fatalf("%s released while p1 was gone: %q", id, got)
		}
	}
	h.send("p5", `{"action":"arrive","key":"five"}`)
	want := []string{"p0", "p2", "p3", "p4", "p5"}
	for _, id := range want {
		r := releasesOf(t, h, id)
		if len(r) != 1 || len(r[0].Others) != n-1 || strings.Contains(strings.Join(r[0].Others, ","), "p1") {
			t.Fatalf("%s release = %+v", id, r)
		}
	}
}

func TestBarrierConcurrentArrivals(t *testing.T) {
	h := newHarness(t, newPartyApp(2))
	const pairs = 50
	for i := range pairs * 2 {
		h.connect(fmt.Sprintf("c%d", i))
	}
	var wg sync.WaitGroup
	for i := range pairs * 2 {
		wg.Go(func() {
			h.send(fmt.Sprintf("c%d", i), fmt.Sprintf(`{"action":"arrive","key":"k%d"}`, i/2))
		})
	}
	wg.Wait()
	for i := range pairs * 2 {
		id := fmt.Sprintf("c%d", i)
		peer := fmt.Sprintf("c%d", i^1)
		r := releasesOf(t, h, id)
		if len(r) != 1 || r[0].Others[0] != peer {
			t.Fatalf("%s releases = %+v, want exactly one naming %s", id, r, peer)
		}
	}
}

// newRestartApp is newPartyApp(2) with RestartAfterRelease.
func newRestartApp() *framework.App[struct{}] {
	app := framework.New[struct{}]("party", nil)
	b := framework.NewBarrier(app, "party", func(to framework.Participant[string], others []framework.Participant[string]) any {
		return map[string]any{"me": to.Payload, "others": []string{others[0].Payload}}
	}, &framework.BarrierOptions{RestartAfterRelease: true})
	framework.Handle(app, "arrive", func(ctx context.Context, c *framework.Conn[struct{}], m pairMsg) error {
		_, err := b.Arrive(ctx, c, m.Key, c.ConnectionID())
		return err
	}, nil)
	return app
}

// TestBarrierRestartAfterRelease: a released pair starts a new generation
// at the next arrival of a connection not in it; one of the released pair
// arriving again changes nothing.
func TestBarrierRestartAfterRelease(t *testing.T) {
	h := newHarness(t, newRestartApp())
	for _, id := range []string{"a", "b", "c", "d"} {
		h.connect(id)
	}
	h.send("a", `{"action":"arrive","key":"k"}`)
	h.send("b", `{"action":"arrive","key":"k"}`)
	if resp := h.send("a", `{"action":"arrive","key":"k"}`); resp.StatusCode >= 300 {
		t.Fatalf("a participant of the released pair arriving again: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := h.send("c", `{"action":"arrive","key":"k"}`); resp.StatusCode >= 300 || len(h.api.framesOf("c")) != 0 {
		t.Fatalf("a third arrival: %d %s, frames %q; want it waiting in a new generation", resp.StatusCode, resp.Body, h.api.framesOf("c"))
	}
	h.send("d", `{"action":"arrive","key":"k"}`)
	ra, rb, rc, rd := releasesOf(t, h, "a"), releasesOf(t, h, "b"), releasesOf(t, h, "c"), releasesOf(t, h, "d")
	if len(ra) != 1 || len(rb) != 1 || len(rc) != 1 || len(rd) != 1 || rc[0].Others[0] != "d" || rd[0].Others[0] != "c" {
		t.Fatalf("releases a=%+v b=%+v c=%+v d=%+v; want a-b, then c-d", ra, rb, rc, rd)
	}
}

// TestBarrierRestartDuringEviction: the window an arrival at a full
// barrier used to poll through. b completes the pair with a, which is gone;
// while b's release is finding that out, c arrives and restarts the
// barrier. b's release carries b into c's generation, where they pair; no
// one waits, no one is refused, and the store is never polled.
func TestBarrierRestartDuringEviction(t *testing.T) {
	h := newHarness(t, newRestartApp())
	for _, id := range []string{"a", "b", "c"} {
		h.connect(id)
	}
	h.send("a", `{"action":"arrive","key":"k"}`)
	h.api.setGone("a")
	var cResp int
	h.api.beforeGone = func(id string) {
		h.api.beforeGone = nil
		cResp = h.send("c", `{"action":"arrive","key":"k"}`).StatusCode
	}
	resp := h.send("b", `{"action":"arrive","key":"k"}`)
	if resp.StatusCode >= 300 || cResp >= 300 {
		t.Fatalf("b answered %d %s, c answered %d; want both admitted", resp.StatusCode, resp.Body, cResp)
	}
	rb, rc := releasesOf(t, h, "b"), releasesOf(t, h, "c")
	if len(rb) != 1 || len(rc) != 1 || rb[0].Others[0] != "c" || rc[0].Others[0] != "b" {
		t.Fatalf("releases b=%+v c=%+v; want b and c paired once", rb, rc)
	}
}

// TestBarrierRefusedDuringEviction: without RestartAfterRelease the same
// window refuses the newcomer at once (409), and the remaining participant
// keeps waiting for the next arrival, as Arrive documents.
func TestBarrierRefusedDuringEviction(t *testing.T) {
	h := newHarness(t, newPartyApp(2))
	for _, id := range []string{"a", "b", "c", "d"} {
		h.connect(id)
	}
	h.send("a", `{"action":"arrive","key":"k"}`)
	h.api.setGone("a")
	var cResp int
	h.api.beforeGone = func(id string) {
		h.api.beforeGone = nil
		cResp = h.send("c", `{"action":"arrive","key":"k"}`).StatusCode
	}
	h.send("b", `{"action":"arrive","key":"k"}`)
	if cResp != http.StatusConflict || len(h.api.framesOf("b")) != 0 {
		t.Fatalf("c answered %d, b got %q; want c refused and b waiting", cResp, h.api.framesOf("b"))
	}
	h.send("d", `{"action":"arrive","key":"k"}`)
	rb, rd := releasesOf(t, h, "b"), releasesOf(t, h, "d")
	if len(rb) != 1 || len(rd) != 1 || rb[0].Others[0] != "d" {
		t.Fatalf("releases b=%+v d=%+v; want b paired with the next arrival", rb, rd)
	}
}
