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
	requestID, messageID := e.messageIDs()
	r, invalid := e.routeFrame(body)
	if r == nil {
		// The reason is reported before the frame is written, so that
		// whoever reads the frame (a test's ReadJSON) finds it.
		e.reject(c.id, requestID, "", errorframe.Forbidden, e.noRoute(body))
		_ = c.writeText(errorframe.New(errorframe.Forbidden, c.id, requestID))
		return
	}
	if invalid != nil {
		e.reject(c.id, requestID, r.key, errorframe.InvalidRequestBody, invalid)
		_ = c.writeText(errorframe.New(errorframe.InvalidRequestBody, c.id, requestID))
		return
	}
	ev := c.messageEvent(r.key, requestID, messageID, body)
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

// routeFrame returns the route to invoke for body (the selected route,
// else $default, else nil) and, if that route has a request model, why
// body fails it (nil if it passes). When the manifest has request models
// the frame is decoded once, and the document serves both the route
// selection expression and the model.
func (e *Emulator) routeFrame(body []byte) (*route, error) {
	if !e.models {
		return e.selectRoute(body), nil
	}
	doc, err := e.decoder.Decode(body)
	if err != nil {
		// Not JSON: no route can be selected. selectRoute still decides,
		// as it always has, so that odd but harmless input (leading
		// whitespace JSON does not allow) routes as before.
		r := e.selectRoute(body)
		if r == nil || r.schema == nil {
			return r, nil
		}
		return r, err
	}
	r := e.defaultR
	if obj, ok := doc.(map[string]any); ok {
		if key, err := e.rse.Select(obj); err == nil {
			r = e.routeByKey(key)
		}
	}
	if r == nil || r.schema == nil {
		return r, nil
	}
	return r, r.schema.Validate(doc)
}

// selectRoute evaluates the route selection expression against body and
// returns the route to invoke: the selected route, else $default, else nil.
func (e *Emulator) selectRoute(body []byte) *route {
	key, err := e.rse.SelectBody(body)
	if err != nil {
		return e.defaultR
	}
	return e.routeByKey(key)
}

// routeByKey returns the route a selected key names, else $default, else
// nil. $connect and $disconnect cannot be selected by a frame.
func (e *Emulator) routeByKey(key string) *route {
	r := e.routes[key]
	if r == nil || key == manifest.RouteConnect || key == manifest.RouteDisconnect {
		return e.defaultR
	}
	return r
}
