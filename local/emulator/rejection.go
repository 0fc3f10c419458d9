package emulator

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/mulletgo/mullet/framework/errorframe"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/schema"
)

// Rejection is a frame the emulator answered with API Gateway's error frame
// itself, without invoking the integration, as API Gateway does: no route
// matched it ("Forbidden"), or it failed its route's request model
// ("Invalid request body"). The client learns no more than that; a
// Rejection says why, for the developer (Options.Rejected).
type Rejection struct {
	// Time is when the frame was refused.
	Time time.Time
	// ConnectionID and RequestID identify the frame, as in the error
	// frame the client got.
	ConnectionID, RequestID string
	// Route is the route whose request model refused the frame, "" when
	// no route matched.
	Route string
	// Message is the error frame's message: errorframe.Forbidden or
	// errorframe.InvalidRequestBody.
	Message string
	// Err is why: a *NoRouteError when no route matched; a
	// *schema.ValidationError (every violation, each with its JSON
	// pointer) or a *schema.SyntaxError when the model refused the frame.
	Err error
}

// Status is the HTTP status API Gateway logs for the refusal: 403 for
// Forbidden, 400 for Invalid request body.
func (r *Rejection) Status() int {
	if r.Message == errorframe.Forbidden {
		return 403
	}
	return 400
}

// Reason says why in one line, e.g. `route "nick": the frame fails its
// model: /nick: minLength: length must be >= 1, but got 0; (root):
// additionalProperties: property "x" is not allowed`, or `no route
// "shout" and no $default route; routes: join, nick, send`.
func (r *Rejection) Reason() string {
	var b strings.Builder
	if r.Route != "" {
		b.WriteString("route ")
		b.WriteString(strconv.Quote(r.Route))
		b.WriteString(": ")
	}
	var ve *schema.ValidationError
	var se *schema.SyntaxError
	switch {
	case errors.As(r.Err, &ve):
		b.WriteString("the frame fails its model: ")
		if len(ve.Violations) == 0 {
			b.WriteString(schema.Violation{Path: ve.Path, Keyword: ve.Keyword, Message: ve.Message}.String())
		}
		for i, v := range ve.Violations {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(v.String())
		}
	case errors.As(r.Err, &se):
		b.WriteString("the frame is not JSON, which its model requires: ")
		b.WriteString(se.Error())
	case r.Err != nil:
		b.WriteString(r.Err.Error())
	default:
		b.WriteString(r.Message)
	}
	return b.String()
}

// NoRouteError is why a frame matched no route, in a Rejection.
type NoRouteError struct {
	// Action is the route key the route selection expression selected from
	// the frame, "" if it selected none (Err says why).
	Action string
	// Expression is the route selection expression.
	Expression string
	// Err is why the expression selected no key, nil if it selected one.
	Err error
	// Routes are the API's route keys, sorted.
	Routes []string
}

// Error names the action and the routes there are.
func (e *NoRouteError) Error() string {
	var b strings.Builder
	if e.Err == nil {
		b.WriteString("no route ")
		b.WriteString(strconv.Quote(e.Action))
	} else {
		b.WriteString(e.Expression)
		b.WriteString(" selects no route key (")
		b.WriteString(e.Err.Error())
		b.WriteString(")")
	}
	b.WriteString(" and no $default route; routes: ")
	n := 0
	for _, k := range e.Routes {
		if k == manifest.RouteConnect || k == manifest.RouteDisconnect {
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		n++
	}
	if n == 0 {
		b.WriteString("none besides $connect and $disconnect")
	}
	return b.String()
}

// Unwrap returns Err.
func (e *NoRouteError) Unwrap() error { return e.Err }

// noRoute explains why body matched no route. It runs only for frames
// that matched none.
func (e *Emulator) noRoute(body []byte) *NoRouteError {
	key, err := e.rse.SelectBody(body)
	return &NoRouteError{Action: key, Expression: e.rse.String(), Err: err, Routes: e.routeKeys}
}

// reject reports a frame answered with an error frame without invoking
// the integration: to Options.Rejected, or else to the log at Info level.
func (e *Emulator) reject(connectionID, requestID, route, message string, err error) {
	r := &Rejection{Time: time.Now(), ConnectionID: connectionID, RequestID: requestID, Route: route, Message: message, Err: err}
	if e.rejected != nil {
		e.rejected(r)
		return
	}
	e.log.LogAttrs(context.Background(), slog.LevelInfo, "emulator: frame refused with "+strconv.Quote(message),
		slog.String("connectionId", connectionID), slog.String("requestId", requestID), slog.String("reason", r.Reason()))
}
