package emulator_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/schema"
)

// rejections collects what the emulator reports through Options.Rejected.
func rejections(opts *emulator.Options) chan *emulator.Rejection {
	ch := make(chan *emulator.Rejection, 10)
	opts.Rejected = func(r *emulator.Rejection) { ch <- r }
	return ch
}

// TestRejectedSchema: a frame that fails its route's model gets API
// Gateway's frame, and Options.Rejected learns the route and every
// violation with its JSON pointer.
func TestRejectedSchema(t *testing.T) {
	var ch chan *emulator.Rejection
	srv, rec := startServer(t, func(o *emulator.Options) { ch = rejections(o) })
	c, id := dial(t, srv, rec, "a")
	frame := roundTrip(t, c, `{"action":"strict","name":"","extra":1}`)
	requestID := parseErrorFrame(t, frame, "Invalid request body", id)
	r := <-ch
	if r.Route != "strict" || r.ConnectionID != id || r.RequestID != requestID || r.Status() != 400 {
		t.Errorf("rejection %+v", r)
	}
	var ve *schema.ValidationError
	if !errors.As(r.Err, &ve) || len(ve.Violations) != 2 {
		t.Fatalf("Err = %v, want a *schema.ValidationError with 2 violations", r.Err)
	}
	want := `route "strict": the frame fails its model: (root): additionalProperties: property "extra" is not allowed; /name: minLength: length must be >= 1, but got 0`
	if got := r.Reason(); got != want {
		t.Errorf("Reason()\n got %s\nwant %s", got, want)
	}
}

// TestRejectedNoRoute: a frame whose action matches no route, with no
// $default route, gets API Gateway's Forbidden frame, and Options.Rejected
// learns the action and the routes that exist.
func TestRejectedNoRoute(t *testing.T) {
	var ch chan *emulator.Rejection
	srv, rec := startServer(t, func(o *emulator.Options) {
		ch = rejections(o)
		o.Manifest.Routes = slices.DeleteFunc(o.Manifest.Routes, func(r manifest.Route) bool { return r.Key == manifest.RouteDefault })
	})
	c, id := dial(t, srv, rec, "a")
	parseErrorFrame(t, roundTrip(t, c, `{"action":"shout"}`), "Forbidden", id)
	r := <-ch
	var nr *emulator.NoRouteError
	if !errors.As(r.Err, &nr) || nr.Action != "shout" || r.Route != "" || r.Status() != 403 {
		t.Fatalf("rejection %+v, Err %v", r, r.Err)
	}
	want := `no route "shout" and no $default route; routes: echo, fail, fail502, failoneway, oneway, strict`
	if got := r.Reason(); got != want {
		t.Errorf("Reason()\n got %s\nwant %s", got, want)
	}
	parseErrorFrame(t, roundTrip(t, c, `not json`), "Forbidden", id)
	if r := <-ch; !strings.HasPrefix(r.Reason(), "$request.body.action selects no route key (") || !strings.HasSuffix(r.Reason(), "routes: echo, fail, fail502, failoneway, oneway, strict") {
		t.Errorf("Reason() of a frame that is not JSON: %s", r.Reason())
	}
}
