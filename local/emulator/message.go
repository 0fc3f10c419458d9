package emulator

import (
	"context"
	"log/slog"

	"github.com/mulletgo/mullet/framework/errorframe"
	"github.com/mulletgo/mullet/manifest"
)

// dispatch handles one complete text message on its own goroutine: API
// Gateway invokes the integration concurrently, also for messages of one
// connection. body is owned by the callee.
func (c *conn) dispatch(body []byte) {
	c.e.invokeWG.Add(1)
	c.e.workers.run(func() {
		defer c.e.invokeWG.Done()
		c.handleMessage(body)
	})
}

// handleMessage routes, validates and integrates one message, and sends
// the route response or error frame.
func (c *conn) handleMessage(body []byte) {
	e := c.e
	requestID := newID()
	r := e.selectRoute(body)
	if r == nil {
		_ = c.writeText(errorframe.New(errorframe.Forbidden, c.id, requestID))
		e.reject(c.id, requestID, "", errorframe.Forbidden, e.noRoute(body))
		return
	}
	if r.schema != nil {
		if err := r.schema.ValidateJSON(body); err != nil {
			_ = c.writeText(errorframe.New(errorframe.InvalidRequestBody, c.id, requestID))
			e.reject(c.id, requestID, r.key, errorframe.InvalidRequestBody, err)
			return
		}
	}
	ev := c.messageEvent(r.key, requestID, body)
	resp, timedOut, err := e.callInvoke(ev)
	switch {
	case err != nil && timedOut:
		e.log.LogAttrs(context.Background(), slog.LevelWarn, "emulator: integration timed out",
			slog.String("route", r.key), slog.String("connectionId", c.id), slog.String("requestId", requestID))
		_ = c.writeText(errorframe.New(errorframe.EndpointRequestTimedOut, c.id, requestID))
	case err != nil:
		e.log.LogAttrs(context.Background(), slog.LevelWarn, "emulator: integration failed",
			slog.String("route", r.key), slog.String("connectionId", c.id), slog.String("requestId", requestID), slog.String("error", err.Error()))
		_ = c.writeText(errorframe.New(errorframe.InternalServerError, c.id, requestID))
	case r.twoWay && resp.Body != "":
		// Whatever the status: API Gateway sends the error frame only for
		// an invocation error, and delivers a returned 5xx's body as the
		// route response.
		_ = c.writeTextString(resp.Body)
	}
}

// selectRoute evaluates the route selection expression against body and
// returns the route to invoke: the selected route, else $default, else nil.
func (e *Emulator) selectRoute(body []byte) *route {
	key, err := e.rse.SelectBody(body)
	if err != nil {
		return e.defaultR
	}
	r := e.routes[key]
	if r == nil || key == manifest.RouteConnect || key == manifest.RouteDisconnect {
		return e.defaultR
	}
	return r
}
