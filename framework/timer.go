package framework

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// TimerEventType is the requestContext.eventType of the events a Scheduler
// delivers back to the function, and TimerRouteKey their routeKey. API
// Gateway never sends either: only a principal allowed to invoke the
// function directly can.
const (
	TimerEventType = "MULLET_TIMER"
	TimerRouteKey  = "$mullet/timer"
)

// Scheduler delivers an event back to the function once, at a given time:
// in AWS EventBridge Scheduler (NewEventBridgeScheduler), locally the same
// client pointed at the emulator's stand-in for it. Scheduling a name that
// is already scheduled is not an error. event is the JSON of an
// events.APIGatewayWebsocketProxyRequest whose eventType is TimerEventType;
// the function receives it as its invocation event.
type Scheduler interface {
	Schedule(ctx context.Context, name string, at time.Time, event []byte) error
}

// timeoutFunc expires the barrier key that expires at expires, telling its
// waiting participants.
type timeoutFunc func(ctx context.Context, inv *Invocation, key string, expires time.Time) error

// timerBody is the body of a barrier's timer event.
type timerBody struct {
	Barrier string `json:"barrier"`
	Key     string `json:"key"`
	// Expires is the barrier's expiry in Unix milliseconds: it names the
	// generation of the barrier the timer belongs to.
	Expires int64 `json:"expires"`
	// Presence, if set, makes this a presence grace timer instead.
	Presence *presenceTimer `json:"presence,omitempty"`
}

// timerName is the schedule name of a barrier generation's timer: stable,
// so that scheduling it twice is idempotent, and within EventBridge
// Scheduler's name rules ([0-9A-Za-z._-], at most 64 characters).
func timerName(barrier, key string, expires time.Time) string {
	sum := sha256.Sum256([]byte(barrier + "\x00" + key + "\x00" + strconv.FormatInt(expires.UnixMilli(), 10)))
	return "mullet-" + hex.EncodeToString(sum[:20])
}

// scheduleTimeout asks the scheduler to deliver the timeout of a barrier
// generation at its expiry. The event carries the scheduling invocation's
// domain name and stage, so that the timer invocation reaches the same
// @connections endpoint.
func (rt *boundRuntime) scheduleTimeout(ctx context.Context, inv *Invocation, barrier, key string, expires time.Time) error {
	body, err := json.Marshal(timerBody{Barrier: barrier, Key: key, Expires: expires.UnixMilli()})
	if err != nil {
		return err
	}
	from := &inv.event.RequestContext
	name := timerName(barrier, key, expires)
	ev := events.APIGatewayWebsocketProxyRequest{
		Body: string(body),
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			EventType: TimerEventType, RouteKey: TimerRouteKey, RequestID: name,
			DomainName: from.DomainName, Stage: from.Stage, APIID: from.APIID,
			RequestTimeEpoch: expires.UnixMilli(),
		},
	}
	data, err := json.Marshal(&ev)
	if err != nil {
		return err
	}
	// The schedule's time is rounded up to a whole second (EventBridge
	// Scheduler's resolution), so that it never fires before the expiry.
	at := expires.Truncate(time.Second)
	if at.Before(expires) {
		at = at.Add(time.Second)
	}
	return rt.scheduler.Schedule(ctx, name, at, data)
}

// maxEarlyTimer is how early a timer may arrive and still be served: it
// waits for the expiry. Earlier ones are refused (clock trouble).
const maxEarlyTimer = 30 * time.Second

// timer serves a timer event. Unlike the API Gateway events it returns an
// error on failure, so that the scheduler retries the invocation.
func (f *function[S]) timer(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	var body timerBody
	if err := json.Unmarshal([]byte(event.Body), &body); err != nil {
		f.logFailure(event, "timer event with a bad body", err)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusBadRequest}, nil
	}
	if body.Presence != nil {
		if early := time.UnixMilli(body.Expires).Sub(f.rt.now()); early > 0 && early <= maxEarlyTimer {
			select {
			case <-time.After(early):
			case <-ctx.Done():
				return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, ctx.Err()
			}
		}
		f.rt.presenceTimeout(ctx, body.Presence)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	expire, ok := f.app.timeouts[body.Barrier]
	if !ok {
		// A timer of a barrier that a newer deployment no longer declares:
		// nothing to do, and nothing to retry.
		f.logFailure(event, "timer event", fmt.Errorf("barrier %q declares no timeout", body.Barrier))
		return events.APIGatewayProxyResponse{StatusCode: http.StatusNotFound}, nil
	}
	expires := time.UnixMilli(body.Expires)
	if early := expires.Sub(f.rt.now()); early > 0 {
		if early > maxEarlyTimer {
			f.logFailure(event, "timer event", fmt.Errorf("barrier %q: timer arrived %v before the expiry", body.Barrier, early))
			return events.APIGatewayProxyResponse{StatusCode: http.StatusBadRequest}, nil
		}
		select {
		case <-time.After(early):
		case <-ctx.Done():
			return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, ctx.Err()
		}
	}
	inv := &Invocation{event: event, rt: f.rt}
	if err := expire(ctx, inv, body.Key, expires); err != nil {
		f.logFailure(event, "barrier timeout", err)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, err
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
}
