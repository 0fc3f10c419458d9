package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.opentelemetry.io/otel/attribute"

	"github.com/mulletgo/mullet/store"
)

// Invocation is one call of the app by API Gateway: a $connect, a frame or
// a $disconnect. Middleware sees it; typed handlers see it through Conn.
// Its methods are safe for concurrent use by the goroutines of one
// invocation.
type Invocation struct {
	event *events.APIGatewayWebsocketProxyRequest
	// id is the caller's connection ID, fixed when the invocation starts:
	// state, groups and the authorizer context are always the caller's
	// own, even if a middleware changes the event.
	id     string
	body   []byte
	rt     *boundRuntime
	twoWay bool
	conn   any    // the *Conn[S] of this invocation
	route  string // the declared route that serves it, for PanicError
	// replies is the declared type of the route's replies, if any.
	replies *outbound

	replyMu   sync.Mutex
	replyData []byte // the route response of a two-way route
	replied   bool

	authMu     sync.Mutex
	auth       AuthContext
	authLoaded bool

	// rid tags the frame for its reply (docs/protocol.md 7).
	rid   string
	recMu sync.Mutex
	rec   *store.Connection
}

// ConnectionID returns the caller's connection ID.
func (inv *Invocation) ConnectionID() string { return inv.id }

// AuthContext returns the context the app's authorizer (see App.Authorize)
// returned for the caller's connection at $connect, or, when API Gateway
// ran a Lambda authorizer, the context API Gateway passes in the event's
// requestContext.authorizer. Values kept by the framework are strings
// ("42", "true"). It returns nil and no error for an app without an
// authorizer. The context is read once per invocation, from the event when
// API Gateway supplied it and otherwise from the connection's record; a
// connection whose record is gone gives an error matching
// store.ErrNotFound, never a nil context that could pass for "no
// authorizer".
func (inv *Invocation) AuthContext(ctx context.Context) (AuthContext, error) {
	inv.authMu.Lock()
	defer inv.authMu.Unlock()
	if inv.authLoaded {
		return inv.auth, nil
	}
	if m, ok := gatewayAuthorizer(inv.event); ok {
		inv.auth, inv.authLoaded = AuthContext(m), true
		return inv.auth, nil
	}
	if !inv.rt.authorizes {
		inv.authLoaded = true
		return nil, nil
	}
	rec, err := inv.record(ctx)
	if err != nil {
		return nil, fmt.Errorf("framework: authorizer context of %s: %w", inv.id, err)
	}
	inv.auth, inv.authLoaded = expandAuthContext(rec.Authorizer), true
	if inv.auth == nil {
		inv.auth = AuthContext{}
	}
	return inv.auth, nil
}

// RequestID returns API Gateway's request ID for this invocation.
func (inv *Invocation) RequestID() string { return inv.event.RequestContext.RequestID }

// RouteKey returns the route that was selected for this invocation.
func (inv *Invocation) RouteKey() string { return inv.event.RequestContext.RouteKey }

// SourceIP returns the caller's source IP address as API Gateway saw it.
func (inv *Invocation) SourceIP() string { return inv.event.RequestContext.Identity.SourceIP }

// UserAgent returns the caller's User-Agent header from $connect.
func (inv *Invocation) UserAgent() string { return inv.event.RequestContext.Identity.UserAgent }

// ConnectedAt returns when the caller connected.
func (inv *Invocation) ConnectedAt() time.Time {
	return time.UnixMilli(inv.event.RequestContext.ConnectedAt)
}

// Body returns the raw frame (nil on $connect and $disconnect). Do not
// modify it.
func (inv *Invocation) Body() []byte { return inv.body }

// Event returns the API Gateway event as aws-lambda-go decoded it. Do not
// modify it.
func (inv *Invocation) Event() *events.APIGatewayWebsocketProxyRequest { return inv.event }

// Logger returns the runtime's logger with this invocation's requestId,
// connectionId and routeKey attached.
func (inv *Invocation) Logger() *slog.Logger {
	return inv.rt.logger.With("requestId", inv.RequestID(), "connectionId", inv.ConnectionID(), "routeKey", inv.RouteKey())
}

func (inv *Invocation) endpoint() (string, error) {
	if inv.rt.callback == nil {
		return "", ErrNoCallback
	}
	rc := &inv.event.RequestContext
	ep := inv.rt.callback.Endpoint(rc.DomainName, rc.Stage)
	inv.rt.noteEndpoint(ep)
	return ep, nil
}

// ReplyText answers the caller with text, sent as it is. On a two-way route
// (see RouteOptions.TwoWay) the frame is the route response that API
// Gateway sends back; elsewhere it is posted to the caller through
// @connections. An invocation replies once: a second ReplyText or ReplyJSON
// sends nothing and returns an error matching ErrAlreadyReplied (use
// SendText or SendJSON with ConnectionID for more frames). A reply that
// could not be posted does not count.
func (inv *Invocation) ReplyText(ctx context.Context, text string) error {
	if err := inv.checkReply([]byte(text)); err != nil {
		return err
	}
	return inv.reply(ctx, tagReply([]byte(text), inv.rid, false))
}

// ReplyJSON answers the caller with v encoded as JSON, as ReplyText does.
func (inv *Invocation) ReplyJSON(ctx context.Context, v any) error {
	data, err := encodeJSON(v)
	if err != nil {
		return err
	}
	if err := inv.checkReply(data); err != nil {
		return err
	}
	return inv.reply(ctx, tagReply(data, inv.rid, true))
}

func (inv *Invocation) reply(ctx context.Context, data []byte) error {
	inv.replyMu.Lock()
	if inv.replied {
		inv.replyMu.Unlock()
		return ErrAlreadyReplied
	}
	inv.replied = true
	if inv.twoWay {
		inv.replyData = data
		inv.replyMu.Unlock()
		return nil
	}
	inv.replyMu.Unlock()
	err := inv.post(ctx, inv.ConnectionID(), data)
	if err != nil {
		inv.replyMu.Lock()
		inv.replied = false
		inv.replyMu.Unlock()
	}
	return err
}

// SendText posts text, as it is, to any connection through @connections.
// If the connection is gone it returns an error matching ErrGone, after
// removing the connection's record, state and group memberships.
func (inv *Invocation) SendText(ctx context.Context, connectionID, text string) error {
	return inv.post(ctx, connectionID, []byte(text))
}

// SendJSON posts v encoded as JSON to any connection, as SendText does.
func (inv *Invocation) SendJSON(ctx context.Context, connectionID string, v any) error {
	data, err := encodeJSON(v)
	if err != nil {
		return err
	}
	return inv.post(ctx, connectionID, data)
}

func (inv *Invocation) post(ctx context.Context, id string, data []byte) error {
	ep, err := inv.endpoint()
	if err != nil {
		return err
	}
	err = inv.rt.callback.Post(ctx, ep, id, data)
	if errors.Is(err, ErrGone) {
		inv.rt.forget(ctx, id)
	}
	return err
}

// Close disconnects a connection (DeleteConnection). API Gateway then runs
// $disconnect for it.
func (inv *Invocation) Close(ctx context.Context, connectionID string) error {
	ep, err := inv.endpoint()
	if err != nil {
		return err
	}
	err = inv.rt.callback.Delete(ctx, ep, connectionID)
	if errors.Is(err, ErrGone) {
		inv.rt.forget(ctx, connectionID)
	}
	return err
}

// Info returns what API Gateway knows of a connection (GetConnection).
func (inv *Invocation) Info(ctx context.Context, connectionID string) (ConnectionInfo, error) {
	ep, err := inv.endpoint()
	if err != nil {
		return ConnectionInfo{}, err
	}
	info, err := inv.rt.callback.Info(ctx, ep, connectionID)
	if errors.Is(err, ErrGone) {
		inv.rt.forget(ctx, connectionID)
	}
	return info, err
}

// Join adds the caller to a group. Membership ends when the caller leaves
// or disconnects; with a session, when the session leaves or ends, since
// a resumed connection is put back in the session's groups.
func (inv *Invocation) Join(ctx context.Context, group string) error {
	if group == "" {
		return errors.New("framework: Join: empty group name")
	}
	sid, err := inv.sessionID(ctx)
	if err != nil {
		return err
	}
	return inv.join(ctx, group, sid, nil, false)
}

// Leave removes the caller from a group, and its session from the group's
// presence, telling the members that asked.
func (inv *Invocation) Leave(ctx context.Context, group string) error {
	if err := retryStore(ctx, func() error { return inv.rt.store.LeaveGroup(ctx, group, inv.ConnectionID()) }); err != nil {
		return err
	}
	sid, err := inv.sessionID(ctx)
	if err != nil || sid == "" || inv.rt.cont == nil {
		return err
	}
	if err := retryStore(ctx, func() error { return inv.rt.cont.SessionLeave(ctx, sid, group) }); err != nil {
		return err
	}
	if g, ok := inv.rt.decl.group(group); ok && g.Presence {
		ep, _ := inv.endpoint()
		inv.rt.leavePresence(ctx, ep, group, sid, store.PresenceCondition{})
	}
	return nil
}

// BroadcastResult counts what a Broadcast did.
type BroadcastResult struct {
	// Sent is the number of members the frame was delivered to.
	Sent int
	// Gone is the number of members found gone and removed.
	Gone int
	// Failed is the number of members that could not be reached for other
	// reasons; the returned error describes them.
	Failed int
	// Position is the message's position in a durable group's stream
	// (zero for other groups).
	Position Position
}

// broadcastWorkers bounds the concurrent @connections calls of one
// broadcast.
const broadcastWorkers = 32

// BroadcastText posts text, as it is, to every member of a group, the
// caller included if it is a member. Members found gone are removed and
// counted, never reported as an error; the error joins the other failures.
func (inv *Invocation) BroadcastText(ctx context.Context, group, text string) (BroadcastResult, error) {
	return inv.broadcast(ctx, group, []byte(text), false)
}

// BroadcastJSON posts v encoded as JSON to every member of a group, as
// BroadcastText does.
func (inv *Invocation) BroadcastJSON(ctx context.Context, group string, v any) (BroadcastResult, error) {
	data, err := encodeJSON(v)
	if err != nil {
		return BroadcastResult{}, err
	}
	return inv.broadcast(ctx, group, data, true)
}

func (inv *Invocation) broadcast(ctx context.Context, group string, data []byte, isJSON bool) (BroadcastResult, error) {
	ep, err := inv.endpoint()
	if err != nil {
		return BroadcastResult{}, err
	}
	if inv.rt.observer == nil || inv.rt.observer.tracer == nil {
		return inv.rt.publish(ctx, ep, group, data, isJSON)
	}
	_, durable := inv.rt.decl.durable(group)
	ctx, end := startSpan(ctx, SpanBroadcast, group, attribute.String("mullet.group", group), attribute.Bool("mullet.durable", durable))
	res, err := inv.rt.publish(ctx, ep, group, data, isJSON)
	end(err)
	return res, err
}

// broadcast posts data to every member of a group.
func (rt *boundRuntime) broadcast(ctx context.Context, ep, group string, data []byte) (BroadcastResult, error) {
	inv := struct{ rt *boundRuntime }{rt}
	var ids []string
	err := retryStore(ctx, func() error {
		var err error
		ids, err = inv.rt.store.GroupMembers(ctx, group)
		return err
	})
	if err != nil {
		return BroadcastResult{}, fmt.Errorf("framework: broadcast to %q: %w", group, err)
	}
	var (
		sent, gone atomic.Int64
		mu         sync.Mutex
		errs       []error
		next       atomic.Int64
		wg         sync.WaitGroup
	)
	workers := min(broadcastWorkers, len(ids))
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				err := inv.rt.callback.Post(ctx, ep, ids[i], data)
				switch {
				case err == nil:
					sent.Add(1)
				case errors.Is(err, ErrGone):
					gone.Add(1)
					inv.rt.forget(ctx, ids[i])
				default:
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", ids[i], err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	res := BroadcastResult{Sent: int(sent.Load()), Gone: int(gone.Load()), Failed: len(errs)}
	if len(errs) > 0 {
		return res, fmt.Errorf("framework: broadcast to %q: %d of %d members failed: %w", group, len(errs), len(ids), errors.Join(errs...))
	}
	return res, nil
}

// encodeJSON encodes a frame of the JSON calls: always JSON, whatever the
// dynamic type of v.
func encodeJSON(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("framework: encode frame as JSON: %w", err)
	}
	return data, nil
}

// Conn is the per-invocation view a typed handler gets: everything
// Invocation offers (the same methods, listed here) plus the caller's own
// state of type S. A connection can only ever read or change its own state.
type Conn[S any] struct {
	inv *Invocation

	stateMu     sync.Mutex
	state       S
	stateLoaded bool
	version     int64
	raw         []byte
}

// Invocation returns the invocation c serves, as middleware sees it.
func (c *Conn[S]) Invocation() *Invocation { return c.inv }

// ConnectionID returns the caller's connection ID.
func (c *Conn[S]) ConnectionID() string { return c.inv.id }

// AuthContext returns the caller's authorizer context; see
// Invocation.AuthContext.
func (c *Conn[S]) AuthContext(ctx context.Context) (AuthContext, error) {
	return c.inv.AuthContext(ctx)
}

// RequestID returns API Gateway's request ID for this invocation.
func (c *Conn[S]) RequestID() string { return c.inv.RequestID() }

// RouteKey returns the route that was selected for this invocation.
func (c *Conn[S]) RouteKey() string { return c.inv.RouteKey() }

// SourceIP returns the caller's source IP address as API Gateway saw it.
func (c *Conn[S]) SourceIP() string { return c.inv.SourceIP() }

// UserAgent returns the caller's User-Agent header from $connect.
func (c *Conn[S]) UserAgent() string { return c.inv.UserAgent() }

// ConnectedAt returns when the caller connected.
func (c *Conn[S]) ConnectedAt() time.Time { return c.inv.ConnectedAt() }

// Body returns the raw frame (nil on $connect and $disconnect). Do not
// modify it.
func (c *Conn[S]) Body() []byte { return c.inv.body }

// Event returns the API Gateway event as aws-lambda-go decoded it. Do not
// modify it.
func (c *Conn[S]) Event() *events.APIGatewayWebsocketProxyRequest { return c.inv.event }

// Logger returns the runtime's logger with this invocation's requestId,
// connectionId and routeKey attached.
func (c *Conn[S]) Logger() *slog.Logger { return c.inv.Logger() }

// ReplyText answers the caller with text, sent as it is; see
// Invocation.ReplyText. A second reply returns an error matching
// ErrAlreadyReplied.
func (c *Conn[S]) ReplyText(ctx context.Context, text string) error {
	return c.inv.ReplyText(ctx, text)
}

// ReplyJSON answers the caller with v encoded as JSON; see
// Invocation.ReplyText. A second reply returns an error matching
// ErrAlreadyReplied.
func (c *Conn[S]) ReplyJSON(ctx context.Context, v any) error { return c.inv.ReplyJSON(ctx, v) }

// SendText posts text, as it is, to any connection; see Invocation.SendText.
func (c *Conn[S]) SendText(ctx context.Context, connectionID, text string) error {
	return c.inv.SendText(ctx, connectionID, text)
}

// SendJSON posts v encoded as JSON to any connection; see
// Invocation.SendText.
func (c *Conn[S]) SendJSON(ctx context.Context, connectionID string, v any) error {
	return c.inv.SendJSON(ctx, connectionID, v)
}

// BroadcastText posts text, as it is, to every member of a group; see
// Invocation.BroadcastText.
func (c *Conn[S]) BroadcastText(ctx context.Context, group, text string) (BroadcastResult, error) {
	return c.inv.BroadcastText(ctx, group, text)
}

// BroadcastJSON posts v encoded as JSON to every member of a group; see
// Invocation.BroadcastText.
func (c *Conn[S]) BroadcastJSON(ctx context.Context, group string, v any) (BroadcastResult, error) {
	return c.inv.BroadcastJSON(ctx, group, v)
}

// Close disconnects a connection; see Invocation.Close.
func (c *Conn[S]) Close(ctx context.Context, connectionID string) error {
	return c.inv.Close(ctx, connectionID)
}

// Info returns what API Gateway knows of a connection; see Invocation.Info.
func (c *Conn[S]) Info(ctx context.Context, connectionID string) (ConnectionInfo, error) {
	return c.inv.Info(ctx, connectionID)
}

// Join adds the caller to a group; see Invocation.Join.
func (c *Conn[S]) Join(ctx context.Context, group string) error { return c.inv.Join(ctx, group) }

// Leave removes the caller from a group; see Invocation.Leave.
func (c *Conn[S]) Leave(ctx context.Context, group string) error { return c.inv.Leave(ctx, group) }

// Caller is the invocation a handler serves, as the handler holds it: a
// *Conn of any state type, or the *Invocation middleware sees. Barrier's
// Arrive takes one.
type Caller interface {
	invocation() *Invocation
}

func (inv *Invocation) invocation() *Invocation { return inv }
func (c *Conn[S]) invocation() *Invocation      { return c.inv }

// State returns the caller's state, loading it on first use. A connection
// that never saved state gets the zero S.
func (c *Conn[S]) State(ctx context.Context) (S, error) {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	if err := c.loadLocked(ctx, false); err != nil {
		var zero S
		return zero, err
	}
	return c.state, nil
}

func (c *Conn[S]) loadLocked(ctx context.Context, force bool) error {
	if c.stateLoaded && !force {
		return nil
	}
	ops, err := c.stateOps(ctx)
	if err != nil {
		return fmt.Errorf("framework: load state of %s: %w", c.ConnectionID(), err)
	}
	var st store.State
	err = retryStore(ctx, func() error {
		var err error
		st, err = ops.load(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("framework: load state of %s: %w", c.ConnectionID(), err)
	}
	var s S
	if len(st.Data) > 0 {
		if err := json.Unmarshal(st.Data, &s); err != nil {
			return fmt.Errorf("framework: decode state of %s: %w", c.ConnectionID(), err)
		}
	}
	c.state, c.version, c.raw, c.stateLoaded = s, st.Version, st.Data, true
	return nil
}

// UpdateState changes the caller's state with fn and saves it, only if it
// changed. The save is conditional on the version that was loaded: if
// another invocation of the same connection saved first, the state is
// reloaded and fn runs again, so no update is lost. fn must therefore have
// no side effects beyond changing *S. If fn returns an error nothing is
// saved and that error is returned. Conflicting writers back off with
// full jitter and retry until the invocation's deadline leaves no time for
// another attempt (then the error matches store.ErrConflict), so many
// concurrent updates of one connection all succeed. A state too large for the store (400 KB)
// gives an error matching store.ErrTooLarge and the stored state is
// unchanged.
func (c *Conn[S]) UpdateState(ctx context.Context, fn func(*S) error) error {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	retry := newStateRetry(ctx)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := retry.wait(ctx); err != nil {
				return fmt.Errorf("framework: save state of %s: %w", c.ConnectionID(), err)
			}
		}
		if err := c.loadLocked(ctx, attempt > 0); err != nil {
			return err
		}
		next := c.state
		if c.raw != nil {
			// Work on a deep copy so a failed attempt leaves c.state intact.
			var fresh S
			if err := json.Unmarshal(c.raw, &fresh); err != nil {
				return fmt.Errorf("framework: decode state: %w", err)
			}
			next = fresh
		}
		if err := fn(&next); err != nil {
			return err
		}
		data, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("framework: encode state: %w", err)
		}
		if c.version > 0 && string(data) == string(c.raw) || c.version == 0 && isZero(data, c.inv.rt) {
			c.state = next
			return nil
		}
		v, err := c.saveState(ctx, data)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("framework: save state of %s: %w", c.ConnectionID(), err)
		}
		c.state, c.version, c.raw = next, v, data
		return nil
	}
}

// saveState writes data conditionally on the loaded version, retrying
// transient failures. A write that timed out may have been applied: the
// state is then read back, and if it holds exactly this write the save
// succeeded (retrying blindly would apply fn twice).
func (c *Conn[S]) saveState(ctx context.Context, data []byte) (int64, error) {
	var v int64
	var uncertain bool
	ops, err := c.stateOps(ctx)
	if err != nil {
		return 0, err
	}
	err = retryStore(ctx, func() error {
		var err error
		v, err = ops.save(ctx, data, c.version)
		if errors.Is(err, store.ErrConflict) && uncertain {
			st, lerr := ops.load(ctx)
			if lerr == nil && st.Version == c.version+1 && string(st.Data) == string(data) {
				v = st.Version
				return nil
			}
		}
		if ambiguous(err) {
			uncertain = true
		}
		return err
	})
	return v, err
}

// isZero reports whether data is the encoding of a zero state, which needs
// no write for a connection that never saved any.
func isZero(data []byte, rt *boundRuntime) bool {
	return string(data) == string(rt.zeroState)
}

// stateOps are where the caller's state lives: its connection's record, or
// its session's with SessionOptions.SessionState.
type stateOps struct {
	load func(ctx context.Context) (store.State, error)
	save func(ctx context.Context, data []byte, expect int64) (int64, error)
}

func (c *Conn[S]) stateOps(ctx context.Context) (stateOps, error) {
	rt, id := c.inv.rt, c.ConnectionID()
	if so := rt.decl.sessions; so != nil && so.SessionState && rt.cont != nil {
		sid, err := c.inv.sessionID(ctx)
		if err != nil {
			return stateOps{}, err
		}
		if sid != "" {
			return stateOps{
				load: func(ctx context.Context) (store.State, error) { return rt.cont.LoadSessionState(ctx, sid) },
				save: func(ctx context.Context, data []byte, expect int64) (int64, error) {
					return rt.cont.SaveSessionState(ctx, sid, data, expect)
				},
			}, nil
		}
	}
	return stateOps{
		load: func(ctx context.Context) (store.State, error) { return rt.store.LoadState(ctx, id) },
		save: func(ctx context.Context, data []byte, expect int64) (int64, error) {
			return rt.store.SaveState(ctx, id, data, expect)
		},
	}, nil
}
