package framework

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/store"
)

// Position is a place in a durable group's stream; see docs/protocol.md.
type Position = store.Position

// SessionOptions turns sessions on for an app (Options.Sessions); see
// docs/protocol.md. The caller's struct is never modified.
type SessionOptions struct {
	// TTL is how long a session lives without a connection. Default
	// DefaultSessionTTL.
	TTL time.Duration
	// SessionState keeps the state S per session rather than per
	// connection: a resumed connection sees the state its session had.
	// Connections without a session keep per-connection state.
	SessionState bool
	// Window and WindowTTL bound the stream of durable sends to each
	// session (SendSessionJSON). Defaults 100 messages and the TTL plus
	// one hour.
	Window    int
	WindowTTL time.Duration
}

// DefaultSessionTTL is the default SessionOptions.TTL.
const DefaultSessionTTL = 5 * time.Minute

// GroupOptions declares how the groups whose names start with a prefix
// behave (App.Groups). The caller's struct is never modified.
type GroupOptions struct {
	// Durable gives every message broadcast to the group a position and
	// keeps a window of them for replay.
	Durable bool
	// Window is how many of the newest messages a resuming client can get.
	// Default 100.
	Window int
	// WindowTTL is how long each message is kept. Default 1 hour.
	WindowTTL time.Duration
	// Presence keeps who is in the group (sessions, with presence data
	// given to Present).
	Presence bool
	// Grace is how long a member whose connection went away stays present,
	// so that a reconnect within it emits no leave and join. Default 5 s.
	Grace time.Duration
}

// Default values of GroupOptions.
const (
	DefaultWindow    = 100
	DefaultWindowTTL = time.Hour
	DefaultGrace     = 5 * time.Second
)

// sessionGroup is the stream name of a session's durable sends in frames;
// sessionStream(id) is its stream in the store.
const sessionGroup = "$session"

func sessionStream(id string) string { return "$session#" + id }

// continuityDecl is what an app declared about sessions and groups.
type continuityDecl struct {
	sessions        *SessionOptions
	groups          []groupDecl
	onDiscontinuity func(ctx context.Context, inv *Invocation, d Discontinuity) error
}

type groupDecl struct {
	prefix string
	opts   GroupOptions
}

// group returns the options of the longest declared prefix of name.
func (d *continuityDecl) group(name string) (GroupOptions, bool) {
	best := -1
	var out GroupOptions
	for _, g := range d.groups {
		if strings.HasPrefix(name, g.prefix) && len(g.prefix) > best {
			best, out = len(g.prefix), g.opts
		}
	}
	return out, best >= 0
}

func (d *continuityDecl) durable(name string) (store.StreamOptions, bool) {
	g, ok := d.group(name)
	if !ok || !g.Durable {
		return store.StreamOptions{}, false
	}
	return store.StreamOptions{Window: g.Window, TTL: g.WindowTTL}, true
}

func (d *continuityDecl) sessionStreamOptions() store.StreamOptions {
	return store.StreamOptions{Window: d.sessions.Window, TTL: d.sessions.WindowTTL}
}

// active reports whether the app uses anything of docs/protocol.md that
// needs control frames.
func (d *continuityDecl) active() bool { return d.sessions != nil || len(d.groups) > 0 }

// manifest describes the declaration for the manifest, nil if empty.
func (d *continuityDecl) manifest() *manifest.Continuity {
	if !d.active() {
		return nil
	}
	mc := &manifest.Continuity{}
	if d.sessions != nil {
		mc.Sessions, mc.SessionTTLSeconds = true, int64(d.sessions.TTL/time.Second)
	}
	for _, g := range d.groups {
		mc.Groups = append(mc.Groups, manifest.GroupSpec{
			Prefix: g.prefix, Durable: g.opts.Durable, Window: g.opts.Window, WindowTTLSeconds: int64(g.opts.WindowTTL / time.Second),
			Presence: g.opts.Presence, GraceSeconds: int64(g.opts.Grace / time.Second),
		})
	}
	slices.SortFunc(mc.Groups, func(a, b manifest.GroupSpec) int { return strings.Compare(a.Prefix, b.Prefix) })
	return mc
}

// Groups declares the groups whose names start with prefix ("" for all)
// durable, with presence, or both. The longest matching prefix applies.
// It panics on a prefix declared twice, a prefix starting with '$', or
// options that make no sense (a window below zero).
func (a *App[S]) Groups(prefix string, opts *GroupOptions) {
	var o GroupOptions
	if opts != nil {
		o = *opts
	}
	if strings.HasPrefix(prefix, "$") {
		panic(fmt.Sprintf("framework: Groups(%q): group names starting with '$' are reserved", prefix))
	}
	if o.Window < 0 || o.WindowTTL < 0 || o.Grace < 0 {
		panic(fmt.Sprintf("framework: Groups(%q): Window, WindowTTL and Grace must not be negative", prefix))
	}
	for _, g := range a.cont.groups {
		if g.prefix == prefix {
			panic(fmt.Sprintf("framework: Groups(%q) is declared twice in app %q", prefix, a.name))
		}
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.WindowTTL == 0 {
		o.WindowTTL = DefaultWindowTTL
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	a.cont.groups = append(a.cont.groups, groupDecl{prefix: prefix, opts: o})
}

// Discontinuity tells an app that a resuming client's position in a
// durable group is no longer covered by the window: messages were lost for
// it. The client was told and continues from To.
type Discontinuity struct {
	Group    string
	From, To Position
}

// OnDiscontinuity declares what the app does when a resuming client cannot
// get what it missed in a group, e.g. send it a snapshot. The client has
// already been sent the discontinuity frame.
func (a *App[S]) OnDiscontinuity(fn func(ctx context.Context, c *Conn[S], d Discontinuity) error) {
	if fn == nil {
		panic("framework: OnDiscontinuity: nil handler")
	}
	a.cont.onDiscontinuity = func(ctx context.Context, inv *Invocation, d Discontinuity) error {
		return fn(ctx, inv.conn.(*Conn[S]), d)
	}
}

// Errors of sessions and durable groups.
var (
	// ErrNoSession: the call needs the caller to have a session.
	ErrNoSession = errors.New("framework: the connection has no session (connect with mullet_session, see docs/protocol.md)")
	// ErrNoContinuity: the runtime's store does not implement
	// store.Continuity, which sessions, durable groups and presence need.
	ErrNoContinuity = errors.New("framework: the store does not implement store.Continuity (sessions, durable groups, presence)")
)

// ---- the $connect side of sessions ----

// connectingWindow is how long after its $connect started a session's
// connection that gets 410 is taken for one still connecting rather than
// gone: API Gateway answers 410 until $connect returns, which can take up
// to its integration timeout (29 s). A $connect usually takes
// milliseconds, but a slow store makes it take seconds: with 5 s, chaos
// runs on a loaded dynalite saw a broadcast's 410 remove the record of a
// connection still in its $connect (the rejoin of its groups then failed
// with store.ErrNotFound, the session was detached, and the connection
// came up without a record: every sync on it failed).
const connectingWindow = 30 * time.Second

// Query string parameters of a session on $connect (docs/protocol.md 2.1).
const (
	ParamSession = "mullet_session"
	ParamSecret  = "mullet_secret"
	ParamNext    = "mullet_next"
)

var sessionIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

// sessionRefused is the one message for every refused resume, so that the
// answer tells an attacker nothing about which check failed.
const sessionRefused = "session refused: unknown or expired session, or a wrong or reused secret"

// binding is the outcome of presenting a session on $connect.
type binding struct {
	id      string
	resumed bool
	before  store.Session // the session as it was, when resumed
}

// HashSecret returns the hash of a resume secret as a client sends it in
// mullet_next: base64url without padding of its SHA-256.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// bindSession creates or resumes the session the $connect event presents.
// It returns nil without a session, or the response that refuses the
// connection; a refusal has written nothing.
func (f *function[S]) bindSession(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest, auth map[string]string, expires time.Time) (*binding, *events.APIGatewayProxyResponse) {
	d := f.rt.decl
	if d.sessions == nil {
		return nil, nil
	}
	q := event.QueryStringParameters
	id, secret, next := q[ParamSession], q[ParamSecret], q[ParamNext]
	if id == "" {
		if secret != "" {
			return nil, refuse(http.StatusBadRequest, ParamSecret+" without "+ParamSession)
		}
		return nil, nil
	}
	if !sessionIDPattern.MatchString(id) {
		return nil, refuse(http.StatusBadRequest, ParamSession+" must be 16 to 64 characters of A-Z a-z 0-9 _ -")
	}
	nextHash, err := base64.RawURLEncoding.DecodeString(next)
	if err != nil || len(nextHash) != sha256.Size {
		return nil, refuse(http.StatusBadRequest, ParamNext+" must be the base64url SHA-256 (43 characters) of the next resume secret")
	}
	if f.rt.cont == nil {
		f.logFailure(event, "session", ErrNoContinuity)
		return nil, refuse(http.StatusInternalServerError, "Internal server error")
	}
	conn := event.RequestContext.ConnectionID
	sessExpires := expires.Add(d.sessions.TTL)
	// took reports whether a refused write was in fact this connection's
	// own earlier attempt, applied although it failed or timed out (the
	// store's client may have retried a write that was applied). Only
	// this connection can have written its own ID with this next hash.
	uncertain := false
	took := func() bool {
		s, err := f.rt.cont.GetSession(ctx, id)
		return err == nil && bytes.Equal(s.SecretHash, nextHash) && s.ConnectionID == conn
	}
	if secret == "" {
		err := retryStore(ctx, func() error {
			err := f.rt.cont.CreateSession(ctx, store.Session{ID: id, SecretHash: nextHash, ConnectionID: conn, Authorizer: auth, Expires: sessExpires})
			if errors.Is(err, store.ErrConflict) && took() {
				return nil
			}
			uncertain = uncertain || ambiguous(err)
			return err
		})
		if errors.Is(err, store.ErrConflict) {
			return nil, refuse(http.StatusConflict, "session refused: a live session has this "+ParamSession)
		}
		if err != nil {
			f.logFailure(event, "create session", err)
			return nil, refuse(http.StatusInternalServerError, "Internal server error")
		}
		return &binding{id: id}, nil
	}
	sum := sha256.Sum256([]byte(secret))
	var before store.Session
	err = retryStore(ctx, func() error {
		var err error
		before, err = f.rt.cont.ResumeSession(ctx, id, sum[:], nextHash, conn, sessExpires)
		if errors.Is(err, store.ErrDenied) && took() {
			// Resumed by the attempt that timed out; the groups to carry
			// over are the session's own.
			before, err = f.rt.cont.GetSession(ctx, id)
			before.ConnectionID = ""
		}
		uncertain = uncertain || ambiguous(err)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDenied) {
		f.rt.logger.Info("session refused", "requestId", event.RequestContext.RequestID, "connectionId", conn, "session", id, "reason", err.Error())
		return nil, refuse(http.StatusForbidden, sessionRefused)
	}
	if err != nil {
		f.logFailure(event, "resume session", err)
		return nil, refuse(http.StatusInternalServerError, "Internal server error")
	}
	return &binding{id: id, resumed: true, before: before}, nil
}

func refuse(status int, msg string) *events.APIGatewayProxyResponse {
	return &events.APIGatewayProxyResponse{StatusCode: status, Body: msg}
}

// rebind carries a resumed session's groups and presence to its new
// connection, then closes the old connection. Failures are logged: the
// client's sync still replays what the session's streams hold.
func (f *function[S]) rebind(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest, b *binding, expires time.Time) {
	conn := event.RequestContext.ConnectionID
	ep := ""
	if f.rt.callback != nil {
		ep = f.rt.callback.Endpoint(event.RequestContext.DomainName, event.RequestContext.Stage)
	}
	for g, m := range b.before.Groups {
		if err := retryStore(ctx, func() error { return f.rt.store.JoinGroup(ctx, g, conn) }); err != nil {
			f.logFailure(event, "rejoin group "+g, err)
		}
		if m.Presence != nil {
			f.rt.present(ctx, ep, g, store.Presence{Session: b.id, ConnectionID: conn, Data: m.Presence, Events: m.Events, Expires: expires})
		}
	}
	if old := b.before.ConnectionID; old != "" && old != conn && f.rt.callback != nil {
		if err := f.rt.callback.Delete(ctx, ep, old); err != nil && !errors.Is(err, ErrGone) {
			f.logFailure(event, "close the session's old connection", err)
		}
	}
}

// away is what happens when a session's connection went away ($disconnect,
// or found gone): the session is detached and starts its TTL, and its
// presence starts the grace period.
func (rt *boundRuntime) away(ctx context.Context, ep string, rec store.Connection) {
	if rec.Session == "" || rt.cont == nil || rt.decl.sessions == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	now := rt.now()
	sess, err := rt.cont.GetSession(ctx, rec.Session)
	if err != nil {
		return // gone already
	}
	if sess.ConnectionID != rec.ID {
		return // resumed by another connection: nothing leaves
	}
	if err := retryStore(ctx, func() error { return rt.cont.DetachSession(ctx, rec.Session, rec.ID, now.Add(rt.decl.sessions.TTL)) }); err != nil {
		rt.logger.Warn("could not detach session", "session", rec.Session, "error", err)
	}
	for g, m := range sess.Groups {
		if m.Presence == nil {
			continue
		}
		opts, _ := rt.decl.group(g)
		until := now.Add(opts.Grace)
		if err := rt.cont.AwayPresence(ctx, g, rec.Session, rec.ID, until); err != nil {
			continue
		}
		if rt.scheduler != nil && ep != "" {
			if err := rt.schedulePresence(ctx, ep, g, rec.Session, rec.ID, until); err != nil {
				rt.logger.Warn("could not schedule the presence grace timer; the member leaves when next listed", "group", g, "error", err)
			}
		}
	}
}

// ---- durable streams ----

// stored bytes of a stream message: a kind byte, then the payload.
const (
	kindJSON = 'j'
	kindText = 't'
)

func storedPayload(data []byte, isJSON bool) []byte {
	out := make([]byte, 0, len(data)+1)
	if isJSON {
		out = append(out, kindJSON)
	} else {
		out = append(out, kindText)
	}
	return append(out, data...)
}

// msgFrame is the msg frame of a stream message (docs/protocol.md 5.2).
func msgFrame(group string, m store.StreamMessage) []byte {
	var b bytes.Buffer
	b.Grow(len(m.Data) + len(group) + 80)
	b.WriteString(`{"mullet":"msg","group":`)
	writeJSONString(&b, group)
	b.WriteString(`,"epoch":`)
	writeJSONString(&b, m.Epoch)
	b.WriteString(`,"offset":`)
	b.WriteString(strconv.FormatInt(m.Offset, 10))
	if len(m.Data) > 0 && m.Data[0] == kindJSON {
		b.WriteString(`,"data":`)
		b.Write(m.Data[1:])
	} else {
		b.WriteString(`,"text":`)
		var text []byte
		if len(m.Data) > 0 {
			text = m.Data[1:]
		}
		writeJSONString(&b, string(text))
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeJSONString(b *bytes.Buffer, s string) {
	data, _ := json.Marshal(s)
	b.Write(data)
}

// posJSON is a position on the wire.
type posJSON struct {
	Epoch  string `json:"epoch"`
	Offset int64  `json:"offset"`
}

func toWire(p Position) posJSON { return posJSON{Epoch: p.Epoch, Offset: p.Offset} }

// append adds a message to a durable stream.
func (rt *boundRuntime) append(ctx context.Context, stream string, data []byte, opts store.StreamOptions) (store.StreamMessage, error) {
	if rt.cont == nil {
		return store.StreamMessage{}, ErrNoContinuity
	}
	// One ID across the attempts: an attempt that was applied although it
	// failed (a timeout after the request left, a 5xx) is found by the
	// next instead of appended again at another offset.
	opts.AppendID = rand.Text()
	var m store.StreamMessage
	err := retryStore(ctx, func() error {
		var err error
		m, err = rt.cont.Append(ctx, stream, data, opts)
		return err
	})
	return m, err
}

// publish broadcasts data to a group: durable groups first append it to
// their stream and send the msg frame.
func (rt *boundRuntime) publish(ctx context.Context, ep, group string, data []byte, isJSON bool) (BroadcastResult, error) {
	if err := rt.checkPush(group, data); err != nil {
		return BroadcastResult{}, err
	}
	opts, durable := rt.decl.durable(group)
	if !durable {
		return rt.broadcast(ctx, ep, group, data)
	}
	m, err := rt.append(ctx, group, storedPayload(data, isJSON), opts)
	if err != nil {
		return BroadcastResult{}, fmt.Errorf("framework: broadcast to %q: %w", group, err)
	}
	res, err := rt.broadcast(ctx, ep, group, msgFrame(group, m))
	res.Position = m.Position
	return res, err
}

// sendSession appends data to a session's stream and posts it to the
// session's connection, if it has one. A session without a connection,
// or whose connection is gone, gets it when it resumes.
func (rt *boundRuntime) sendSession(ctx context.Context, ep, id string, data []byte, isJSON bool) (Position, error) {
	if rt.decl.sessions == nil {
		return Position{}, errors.New("framework: SendSession: the app declares no sessions (Options.Sessions)")
	}
	if rt.cont == nil {
		return Position{}, ErrNoContinuity
	}
	var sess store.Session
	if err := retryStore(ctx, func() error {
		var err error
		sess, err = rt.cont.GetSession(ctx, id)
		return err
	}); err != nil {
		return Position{}, fmt.Errorf("framework: send to session %s: %w", id, err)
	}
	m, err := rt.append(ctx, sessionStream(id), storedPayload(data, isJSON), rt.decl.sessionStreamOptions())
	if err != nil {
		return Position{}, fmt.Errorf("framework: send to session %s: %w", id, err)
	}
	if sess.ConnectionID != "" && rt.callback != nil && ep != "" {
		err := rt.callback.Post(ctx, ep, sess.ConnectionID, msgFrame(sessionGroup, m))
		if errors.Is(err, ErrGone) {
			rt.forget(ctx, sess.ConnectionID)
		} else if err != nil {
			return m.Position, fmt.Errorf("framework: send to session %s: stored at offset %d, not delivered: %w", id, m.Offset, err)
		}
	}
	return m.Position, nil
}

// ---- control frames ----

// maxReplayWaits and replayWait bound how long a replay waits for a client
// whose send buffer is full.
const (
	maxReplayWaits = 40
	replayWait     = 50 * time.Millisecond
)

// ReplayPage is the most messages one sync replays, shared equally among
// the groups that have any (docs/protocol.md 2.3). When a group had more,
// synced says "more": true, so that the client syncs again from its new
// positions. Each answer stays short enough to finish on a connection
// that is soon cut, and to fit a client's send buffer, however far behind
// the client is; and its synced places every group the client had no
// position for.
const ReplayPage = 128

// controlFrame is a client's control frame (docs/protocol.md).
type controlFrame struct {
	Mullet    string             `json:"mullet"`
	Positions map[string]posJSON `json:"positions"`
	RID       string             `json:"$rid"`
}

// isControl reports whether a frame is a control frame: a JSON object with
// a top-level string member "mullet".
func isControl(body []byte) (controlFrame, bool) {
	var cf controlFrame
	if !bytes.Contains(body, []byte(`"mullet"`)) {
		return cf, false
	}
	if err := json.Unmarshal(body, &cf); err != nil || cf.Mullet == "" {
		return cf, false
	}
	return cf, true
}

// errorControl is an error frame about a control frame.
func errorControl(code, message, rid string) []byte {
	v := map[string]string{"mullet": "error", "code": code, "message": message}
	if rid != "" {
		v["$rid"] = rid
	}
	data, _ := json.Marshal(v)
	return data
}

// control serves a control frame.
func (f *function[S]) control(ctx context.Context, event *events.APIGatewayWebsocketProxyRequest, cf controlFrame) (events.APIGatewayProxyResponse, error) {
	ok := events.APIGatewayProxyResponse{StatusCode: http.StatusOK}
	c := f.newConn(event, nil, false)
	inv := c.inv
	ep, err := inv.endpoint()
	if err != nil {
		return ok, nil
	}
	// A replay posts many frames to one client: when its send buffer is
	// full (429 after the callback's own retries) wait for it to read, a
	// bounded number of times, rather than give up the replay.
	post := func(frame []byte) error {
		for attempt := 0; ; attempt++ {
			err := inv.post(ctx, inv.id, frame)
			if !errors.Is(err, ErrThrottled) || attempt >= maxReplayWaits {
				return err
			}
			select {
			case <-ctx.Done():
				return err
			case <-time.After(replayWait):
			}
		}
	}
	switch cf.Mullet {
	case "sync":
		if err := f.sync(ctx, inv, ep, cf, post); err != nil {
			if errors.Is(err, ErrNoSession) {
				_ = post(errorControl("no_session", "sync needs a session: connect with "+ParamSession, cf.RID))
				return ok, nil
			}
			if errors.Is(err, ErrGone) {
				// Cut during the replay: the client syncs again when it is
				// back.
				f.rt.logger.Debug("sync cut short: the connection is gone", "requestId", event.RequestContext.RequestID, "connectionId", event.RequestContext.ConnectionID)
				return ok, nil
			}
			f.logFailure(event, "sync", err)
			_ = post(errorControl("internal", "Internal server error", cf.RID))
		}
	default:
		_ = post(errorControl("unknown", fmt.Sprintf("unknown control frame %q", cf.Mullet), cf.RID))
	}
	return ok, nil
}

// sync replays what the caller's session missed in each of its durable
// groups and its own stream, then sends synced (docs/protocol.md 2.3).
func (f *function[S]) sync(ctx context.Context, inv *Invocation, ep string, cf controlFrame, post func([]byte) error) error {
	sid, err := inv.sessionID(ctx)
	if err != nil {
		return err
	}
	if sid == "" || f.rt.cont == nil {
		return ErrNoSession
	}
	var sess store.Session
	if err := retryStore(ctx, func() error {
		var err error
		sess, err = f.rt.cont.GetSession(ctx, sid)
		return err
	}); err != nil {
		return err
	}
	type stream struct {
		group, name string
		after       Position
		opts        store.StreamOptions
	}
	var streams []stream
	for g, m := range sess.Groups {
		if opts, ok := f.rt.decl.durable(g); ok {
			streams = append(streams, stream{group: g, name: g, after: m.At, opts: opts})
		}
	}
	streams = append(streams, stream{group: sessionGroup, name: sessionStream(sid), opts: f.rt.decl.sessionStreamOptions()})
	reads := make([]store.StreamRead, len(streams))
	for i := range streams {
		s := &streams[i]
		if p, ok := cf.Positions[s.group]; ok {
			s.after = Position{Epoch: p.Epoch, Offset: p.Offset}
		}
		// No group's page can exceed ReplayPage: the store reads no more.
		opts := s.opts
		opts.Limit = ReplayPage
		if err := retryStore(ctx, func() error {
			var err error
			reads[i], err = f.rt.cont.ReadStream(ctx, s.name, s.after, opts)
			return err
		}); err != nil {
			return fmt.Errorf("read %s: %w", s.group, err)
		}
	}
	pages, more := replayPages(reads, ReplayPage)
	if f.rt.logger.Enabled(ctx, slog.LevelDebug) {
		replay := 0
		for _, n := range pages {
			replay += n
		}
		f.rt.logger.Debug("sync", "connectionId", inv.id, "session", sid, "replay", replay, "more", more)
	}
	out := map[string]posJSON{}
	for i, s := range streams {
		r := reads[i]
		if r.Discontinuity {
			frame, _ := json.Marshal(map[string]any{"mullet": "discontinuity", "group": s.group, "epoch": r.Tail.Epoch, "offset": r.Tail.Offset, "from": toWire(s.after)})
			if err := post(frame); err != nil {
				return err
			}
			out[s.group] = toWire(r.Tail)
			if fn := f.rt.decl.onDiscontinuity; fn != nil {
				if err := fn(ctx, inv, Discontinuity{Group: s.group, From: s.after, To: r.Tail}); err != nil {
					f.logFailure(inv.event, "OnDiscontinuity", err)
				}
			}
			continue
		}
		for _, m := range r.Messages[:pages[i]] {
			noteReplay(ctx)
			if err := post(msgFrame(s.group, m)); err != nil {
				return err
			}
		}
		// The position the replay started from: a client that had none
		// takes it and orders what it buffered from there.
		out[s.group] = toWire(s.after)
	}
	synced := map[string]any{"mullet": "synced", "session": sid, "groups": out}
	if more {
		synced["more"] = true
	}
	if cf.RID != "" {
		synced["$rid"] = cf.RID
	}
	frame, _ := json.Marshal(synced)
	return post(frame)
}

// replayPages shares a page of budget messages among the streams' reads:
// each stream gets an equal share, and what a stream does not need goes
// to the others. It returns how many messages of each read to replay, and
// whether any read holds more than that, or stopped at its limit with more
// in its stream.
func replayPages(reads []store.StreamRead, budget int) (pages []int, more bool) {
	pages = make([]int, len(reads))
	var waiting []int
	for i, r := range reads {
		if len(r.Messages) > 0 {
			waiting = append(waiting, i)
		}
	}
	for len(waiting) > 0 && budget > 0 {
		share := max(budget/len(waiting), 1)
		next := waiting[:0]
		for _, i := range waiting {
			take := min(share, len(reads[i].Messages)-pages[i], budget)
			pages[i] += take
			budget -= take
			if pages[i] < len(reads[i].Messages) {
				next = append(next, i)
			}
		}
		waiting = next
	}
	more = len(waiting) > 0
	for _, r := range reads {
		more = more || r.More
	}
	return pages, more
}

// ---- request/reply ----

// requestTagField is the member of a frame that tags it for its reply.
const requestTagField = "$rid"

// requestTag returns the $rid of a frame, "" if it has none.
func requestTag(body []byte) string {
	if !bytes.Contains(body, []byte(`"$rid"`)) {
		return ""
	}
	var v struct {
		RID string `json:"$rid"`
	}
	if json.Unmarshal(body, &v) != nil || len(v.RID) > 64 {
		return ""
	}
	return v.RID
}

// tagReply adds rid to a reply: as a member of a JSON object, or wrapping
// anything else (docs/protocol.md 7).
func tagReply(data []byte, rid string, isJSON bool) []byte {
	if rid == "" {
		return data
	}
	var b bytes.Buffer
	b.WriteString(`{"$rid":`)
	writeJSONString(&b, rid)
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 1 && trimmed[0] == '{' && json.Valid(trimmed) {
		rest := bytes.TrimSpace(trimmed[1:])
		if len(rest) > 0 && rest[0] != '}' {
			b.WriteByte(',')
		}
		b.Write(rest)
		return b.Bytes()
	}
	b.WriteString(`,"$reply":`)
	if isJSON {
		b.Write(data)
	} else {
		writeJSONString(&b, string(data))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// ---- presence ----

// Member is a session present in a group.
type Member struct {
	Session string          `json:"session"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// presenceEvent is a presence frame (docs/protocol.md 6).
type presenceEvent struct {
	Mullet  string          `json:"mullet"`
	Group   string          `json:"group"`
	Event   string          `json:"event"`
	Session string          `json:"session"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// present records a member and tells the others, exactly once, that it
// joined (or, if its record had expired unseen, that it left and joined).
func (rt *boundRuntime) present(ctx context.Context, ep string, group string, p store.Presence) {
	var prev *store.Presence
	if err := retryStore(ctx, func() error {
		var err error
		prev, err = rt.cont.PutPresence(ctx, group, p)
		return err
	}); err != nil {
		rt.logger.Warn("could not record presence", "group", group, "session", p.Session, "error", err)
		return
	}
	now := rt.now()
	var evs []presenceEvent
	switch {
	case prev == nil:
		evs = append(evs, presenceEvent{Event: "join", Session: p.Session, Data: p.Data})
	case !now.Before(prev.Expires):
		evs = append(evs, presenceEvent{Event: "leave", Session: p.Session}, presenceEvent{Event: "join", Session: p.Session, Data: p.Data})
	}
	if len(evs) > 0 {
		rt.tell(ctx, ep, group, evs)
	}
}

// leavePresence removes a member on cond and tells the others.
func (rt *boundRuntime) leavePresence(ctx context.Context, ep, group, session string, cond store.PresenceCondition) bool {
	_, err := rt.cont.LeavePresence(ctx, group, session, cond)
	if err != nil {
		return false
	}
	rt.tell(ctx, ep, group, []presenceEvent{{Event: "leave", Session: session}})
	return true
}

// members lists a group's live members; members found past their grace
// period leave (once, whoever finds them first) and the others are told.
func (rt *boundRuntime) members(ctx context.Context, ep, group string) ([]store.Presence, error) {
	var live, expired []store.Presence
	if err := retryStore(ctx, func() error {
		var err error
		live, expired, err = rt.cont.ListPresence(ctx, group)
		return err
	}); err != nil {
		return nil, err
	}
	var evs []presenceEvent
	for _, p := range expired {
		if _, err := rt.cont.LeavePresence(ctx, group, p.Session, store.PresenceCondition{ConnectionID: p.ConnectionID, Expired: true}); err == nil {
			evs = append(evs, presenceEvent{Event: "leave", Session: p.Session})
		}
	}
	if len(evs) > 0 {
		rt.post(ctx, ep, group, live, evs)
	}
	return live, nil
}

// tell sends presence events to the members of group that asked for them.
func (rt *boundRuntime) tell(ctx context.Context, ep, group string, evs []presenceEvent) {
	if ep == "" || rt.callback == nil {
		return
	}
	live, err := rt.members(ctx, ep, group)
	if err != nil {
		rt.logger.Warn("could not list presence", "group", group, "error", err)
		return
	}
	rt.post(ctx, ep, group, live, evs)
}

func (rt *boundRuntime) post(ctx context.Context, ep, group string, to []store.Presence, evs []presenceEvent) {
	if ep == "" || rt.callback == nil {
		return
	}
	frames := make([][]byte, len(evs))
	for i, ev := range evs {
		ev.Mullet, ev.Group = "presence", group
		frames[i], _ = json.Marshal(ev)
	}
	var wg sync.WaitGroup
	for _, m := range to {
		if !m.Events {
			continue
		}
		wg.Go(func() {
			for i, ev := range evs {
				if ev.Session == m.Session {
					continue // a member is not told about itself
				}
				if err := rt.callback.Post(ctx, ep, m.ConnectionID, frames[i]); errors.Is(err, ErrGone) {
					rt.forget(ctx, m.ConnectionID)
					return
				}
			}
		})
	}
	wg.Wait()
}

// presenceTimer is the body of a presence grace timer.
type presenceTimer struct {
	Group      string `json:"group"`
	Session    string `json:"session"`
	Connection string `json:"connection"`
	Endpoint   string `json:"endpoint"`
}

func (rt *boundRuntime) schedulePresence(ctx context.Context, ep, group, session, conn string, at time.Time) error {
	body, err := json.Marshal(timerBody{Presence: &presenceTimer{Group: group, Session: session, Connection: conn, Endpoint: ep}, Expires: at.UnixMilli()})
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(group + "\x00" + session + "\x00" + conn))
	name := fmt.Sprintf("mullet-p-%x", sum[:20])
	ev := events.APIGatewayWebsocketProxyRequest{
		Body:           string(body),
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{EventType: TimerEventType, RouteKey: TimerRouteKey, RequestID: name, RequestTimeEpoch: at.UnixMilli()},
	}
	data, err := json.Marshal(&ev)
	if err != nil {
		return err
	}
	fire := at.Truncate(time.Second)
	if fire.Before(at) {
		fire = fire.Add(time.Second)
	}
	return rt.scheduler.Schedule(ctx, name, fire, data)
}

// presenceTimeout serves a presence grace timer: the member leaves if its
// connection did not come back.
func (rt *boundRuntime) presenceTimeout(ctx context.Context, t *presenceTimer) {
	if rt.cont == nil {
		return
	}
	rt.leavePresence(ctx, t.Endpoint, t.Group, t.Session, store.PresenceCondition{ConnectionID: t.Connection, Expired: true})
}

// ---- the caller's session ----

// sessionID returns the caller's session ID, "" for a plain connection or
// an app without sessions.
func (inv *Invocation) sessionID(ctx context.Context) (string, error) {
	if inv.rt.decl.sessions == nil {
		return "", nil
	}
	rec, err := inv.record(ctx)
	if err != nil {
		return "", fmt.Errorf("framework: session of %s: %w", inv.id, err)
	}
	return rec.Session, nil
}

// Session returns the ID of the caller's session, "" if it has none.
func (inv *Invocation) Session(ctx context.Context) (string, error) { return inv.sessionID(ctx) }

// SendSessionText sends text, durably, to a session: it gets a position in
// the session's own stream and reaches the session's connection now or,
// if it has none, when it resumes (docs/protocol.md 5.4).
func (inv *Invocation) SendSessionText(ctx context.Context, session, text string) (Position, error) {
	ep, err := inv.endpoint()
	if err != nil {
		return Position{}, err
	}
	return inv.rt.sendSession(ctx, ep, session, []byte(text), false)
}

// SendSessionJSON sends v encoded as JSON, durably, to a session; see
// SendSessionText.
func (inv *Invocation) SendSessionJSON(ctx context.Context, session string, v any) (Position, error) {
	data, err := encodeJSON(v)
	if err != nil {
		return Position{}, err
	}
	ep, err := inv.endpoint()
	if err != nil {
		return Position{}, err
	}
	return inv.rt.sendSession(ctx, ep, session, data, true)
}

// PresenceOptions configures Present. nil means defaults.
type PresenceOptions struct {
	// Events asks for join and leave events of the group's other members.
	Events bool
}

// Present joins the caller's session to a group declared with presence
// (see GroupOptions.Presence), with data (encoded as JSON) as its presence
// data; members that asked for events are told it joined. It needs a
// session (ErrNoSession).
func (inv *Invocation) Present(ctx context.Context, group string, data any, opts *PresenceOptions) error {
	if g, ok := inv.rt.decl.group(group); !ok || !g.Presence {
		return fmt.Errorf("framework: Present(%q): the group is not declared with presence (App.Groups)", group)
	}
	raw, err := encodeJSON(data)
	if err != nil {
		return err
	}
	sid, err := inv.sessionID(ctx)
	if err != nil {
		return err
	}
	if sid == "" {
		return ErrNoSession
	}
	var o PresenceOptions
	if opts != nil {
		o = *opts
	}
	if err := inv.join(ctx, group, sid, raw, o.Events); err != nil {
		return err
	}
	rec, err := inv.record(ctx)
	if err != nil {
		return err
	}
	ep, _ := inv.endpoint()
	inv.rt.present(ctx, ep, group, store.Presence{Session: sid, ConnectionID: inv.id, Data: raw, Events: o.Events, Expires: rec.Expires})
	return nil
}

// Presence lists who is present in a group: sessions with their presence
// data, ordered by session ID.
func (inv *Invocation) Presence(ctx context.Context, group string) ([]Member, error) {
	if inv.rt.cont == nil {
		return nil, ErrNoContinuity
	}
	ep, _ := inv.endpoint()
	live, err := inv.rt.members(ctx, ep, group)
	if err != nil {
		return nil, fmt.Errorf("framework: presence of %q: %w", group, err)
	}
	out := make([]Member, 0, len(live))
	for _, p := range live {
		out = append(out, Member{Session: p.Session, Data: json.RawMessage(p.Data)})
	}
	return out, nil
}

// join adds the caller to a group and, with a session, records the
// membership in the session, with the stream's tail for a durable group.
func (inv *Invocation) join(ctx context.Context, group, sid string, presence []byte, events bool) error {
	if err := retryStore(ctx, func() error { return inv.rt.store.JoinGroup(ctx, group, inv.id) }); err != nil {
		return err
	}
	if sid == "" || inv.rt.cont == nil {
		return nil
	}
	m := store.Membership{Presence: presence, Events: events}
	if _, durable := inv.rt.decl.durable(group); durable {
		if err := retryStore(ctx, func() error {
			var err error
			m.At, err = inv.rt.cont.StreamTail(ctx, group)
			return err
		}); err != nil {
			return err
		}
	}
	return retryStore(ctx, func() error { return inv.rt.cont.SessionJoin(ctx, sid, group, m) })
}

// History sends the caller the newest messages of a durable group, at
// most last, as msg frames in stream order, e.g. on joining it.
func (inv *Invocation) History(ctx context.Context, group string, last int) error {
	opts, durable := inv.rt.decl.durable(group)
	if !durable {
		return fmt.Errorf("framework: History(%q): the group is not durable (App.Groups)", group)
	}
	if inv.rt.cont == nil {
		return ErrNoContinuity
	}
	if last > 0 && last < opts.Window {
		opts.Window = last
	}
	var r store.StreamRead
	if err := retryStore(ctx, func() error {
		var err error
		r, err = inv.rt.cont.ReadStream(ctx, group, Position{}, opts)
		return err
	}); err != nil {
		return fmt.Errorf("framework: history of %q: %w", group, err)
	}
	for _, m := range r.Messages {
		noteReplay(ctx)
		if err := inv.post(ctx, inv.id, msgFrame(group, m)); err != nil {
			return err
		}
	}
	return nil
}

// ---- Conn wrappers ----

// Session returns the ID of the caller's session; see Invocation.Session.
func (c *Conn[S]) Session(ctx context.Context) (string, error) { return c.inv.Session(ctx) }

// SendSessionText sends text durably to a session; see
// Invocation.SendSessionText.
func (c *Conn[S]) SendSessionText(ctx context.Context, session, text string) (Position, error) {
	return c.inv.SendSessionText(ctx, session, text)
}

// SendSessionJSON sends v durably to a session; see
// Invocation.SendSessionText.
func (c *Conn[S]) SendSessionJSON(ctx context.Context, session string, v any) (Position, error) {
	return c.inv.SendSessionJSON(ctx, session, v)
}

// Present joins the caller's session to a group with presence data; see
// Invocation.Present.
func (c *Conn[S]) Present(ctx context.Context, group string, data any, opts *PresenceOptions) error {
	return c.inv.Present(ctx, group, data, opts)
}

// Presence lists who is present in a group; see Invocation.Presence.
func (c *Conn[S]) Presence(ctx context.Context, group string) ([]Member, error) {
	return c.inv.Presence(ctx, group)
}

// History sends the caller the newest messages of a durable group; see
// Invocation.History.
func (c *Conn[S]) History(ctx context.Context, group string, last int) error {
	return c.inv.History(ctx, group, last)
}

// ---- publishing from outside a handler ----

// Publisher broadcasts to groups and sends to sessions from outside a
// handler (a cron Lambda, an HTTP handler, a script), with the same
// durability as handlers: it needs only the store and the callback client.
type Publisher struct {
	rt       *boundRuntime
	endpoint string
}

// Publisher returns a Publisher for the app's groups and sessions over
// rt's Store and Callback, posting to the @connections endpoint (e.g.
// "https://{api}.execute-api.{region}.amazonaws.com/{stage}"; empty means
// the Callback's fixed CallbackOptions.Endpoint).
func (a *App[S]) Publisher(rt *Runtime, endpoint string) *Publisher {
	f := a.Bind(rt).(*function[S])
	if endpoint == "" && f.rt.callback != nil {
		endpoint = f.rt.callback.endpoint
	}
	return &Publisher{rt: f.rt, endpoint: endpoint}
}

func (p *Publisher) ready() error {
	if p.rt.callback == nil {
		return ErrNoCallback
	}
	if p.endpoint == "" {
		return errors.New("framework: Publisher: no @connections endpoint (give one, or CallbackOptions.Endpoint)")
	}
	return nil
}

// BroadcastText posts text to every member of a group; a durable group
// first gives it a position.
func (p *Publisher) BroadcastText(ctx context.Context, group, text string) (BroadcastResult, error) {
	if err := p.ready(); err != nil {
		return BroadcastResult{}, err
	}
	return p.rt.publish(ctx, p.endpoint, group, []byte(text), false)
}

// BroadcastJSON posts v encoded as JSON to every member of a group, as
// BroadcastText does.
func (p *Publisher) BroadcastJSON(ctx context.Context, group string, v any) (BroadcastResult, error) {
	if err := p.ready(); err != nil {
		return BroadcastResult{}, err
	}
	data, err := encodeJSON(v)
	if err != nil {
		return BroadcastResult{}, err
	}
	return p.rt.publish(ctx, p.endpoint, group, data, true)
}

// SendSessionText sends text durably to a session; see
// Invocation.SendSessionText.
func (p *Publisher) SendSessionText(ctx context.Context, session, text string) (Position, error) {
	if err := p.ready(); err != nil {
		return Position{}, err
	}
	return p.rt.sendSession(ctx, p.endpoint, session, []byte(text), false)
}

// SendSessionJSON sends v durably to a session; see
// Invocation.SendSessionText.
func (p *Publisher) SendSessionJSON(ctx context.Context, session string, v any) (Position, error) {
	if err := p.ready(); err != nil {
		return Position{}, err
	}
	data, err := encodeJSON(v)
	if err != nil {
		return Position{}, err
	}
	return p.rt.sendSession(ctx, p.endpoint, session, data, true)
}
