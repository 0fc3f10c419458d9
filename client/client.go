package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Conn is a connection to a mullet app (or any API Gateway WebSocket API)
// that survives cuts: it reconnects, resumes its session and delivers the
// messages of durable groups exactly once and in order. It is safe for
// concurrent use; Receive is meant for one reader.
type Conn struct {
	url  string
	opts Options

	sendq   chan outgoing
	closing chan struct{}
	done    chan struct{}
	wake    chan struct{}      // a message entered the inbox
	cutNow  chan chan struct{} // drop the current connection (Cut); closed once dropped
	syncNow chan struct{}      // a group without a position got a message

	mu         sync.Mutex
	keys       keys
	streams    *streams
	noSessions bool // the server answered sync with something else
	// syncAnswered: a synced arrived once; only then are syncs sent for
	// gaps and idleness.
	syncAnswered bool
	resync       bool // the first sync failed: send it again
	connected    bool
	gen          int // the current connection's number
	inbox        []Message
	err          error // why the Conn ended
	pending      map[string]*request
	nextRID      int // sync frames' $rid
	nextReq      int // requests' $rid
	stats        Stats
	closeOnce    sync.Once
	lastData     time.Time
	lostAt       time.Time            // when the last connection was lost
	syncing      bool                 // between this connection's first sync and its last synced
	timed        bool                 // this connection's resume latency is recorded
	syncRIDs     map[string]time.Time // the syncs awaiting synced, by $rid, and when they were sent
	notFull      chan struct{}        // signalled when the send queue drained one
}

type outgoing struct {
	data []byte
	rid  string
}

type request struct {
	reply chan Message
	gen   int // the connection it was written on; 0 before
	lost  chan struct{}
}

// Stats counts what a Conn went through.
type Stats struct {
	// Connects counts connections opened, Reconnects those after the
	// first, Proactive those closed by MaxAge.
	Connects, Reconnects, Proactive int
	// Replayed counts durable messages received while a resume's sync ran.
	Replayed int
	// Duplicates counts durable messages dropped as already delivered.
	Duplicates int
	// Discontinuities counts KindDiscontinuity messages; SessionsLost
	// counts KindSessionLost.
	Discontinuities, SessionsLost int
	// ResumeLatencies holds, for each reconnect, the time from the loss of
	// the connection to the first synced frame of the new one (including
	// backoff and failed attempts): the session is back and every group
	// placed, though a replay in pages may go on (docs/protocol.md 2.3).
	ResumeLatencies []time.Duration
}

// Dial opens a connection to rawURL (ws:// or wss://) and keeps it open
// until Close: it presents a session (unless opts.NoSession) and resumes
// it after every cut. The first upgrade is one attempt bounded by ctx and
// Options.DialTimeout; its refusal is a *HandshakeError. Later attempts
// retry with backoff until Close, or until the server refuses an upgrade
// with a 4xx status other than 429 (then Receive returns that error).
func Dial(ctx context.Context, rawURL string, opts *Options) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("client: URL %q: %w", rawURL, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("client: URL %q: the scheme must be ws or wss", rawURL)
	}
	o := opts.withDefaults()
	c := &Conn{
		url:      rawURL,
		opts:     o,
		sendq:    make(chan outgoing, o.SendQueue),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		cutNow:   make(chan chan struct{}),
		syncNow:  make(chan struct{}, 1),
		streams:  newStreams(),
		pending:  map[string]*request{},
		syncRIDs: map[string]time.Time{},
		notFull:  make(chan struct{}, 1),
	}
	if r := o.Resume; r != nil && !o.NoSession {
		c.keys = keys{id: r.ID, secret: r.Secret, candidates: append([]string(nil), r.Candidates...)}
		for g, p := range r.Positions {
			c.streams.synced(g, p)
		}
	} else {
		c.keys = newKeys()
	}
	ws, newSession, err := c.connect(ctx)
	for attempt := 1; err != nil; attempt++ {
		var re *retryError
		if !errors.As(err, &re) {
			return nil, err
		}
		// A resumed session refused: try its secrets again (Options.Resume).
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff(attempt, o.MinBackoff, o.MaxBackoff, rand.N[time.Duration])):
		}
		ws, newSession, err = c.connect(ctx)
	}
	go c.run(ws, newSession)
	return c, nil
}

// connect makes one upgrade attempt, following the session rules of
// docs/protocol.md 2.2: a refused resume tries the secrets proposed by
// attempts that had no answer, then starts a new session.
func (c *Conn) connect(ctx context.Context) (ws *websocket.Conn, newSession bool, err error) {
	for {
		c.mu.Lock()
		k := c.keys
		c.mu.Unlock()
		q := url.Values{}
		var next string
		if !c.opts.NoSession {
			next = k.present(q)
		}
		ws, status, err := c.upgrade(ctx, q)
		c.mu.Lock()
		switch {
		case err == nil:
			if !c.opts.NoSession {
				c.keys.accepted(next)
			}
			c.mu.Unlock()
			return ws, newSession, nil
		case c.opts.NoSession:
		case status == 0 || status >= 500:
			c.keys.unanswered(next)
		case status == http.StatusForbidden && k.secret != "" || status == http.StatusConflict:
			if c.keys.refused() {
				c.mu.Unlock()
				continue
			}
			if k.secret == "" && status == http.StatusConflict || newSession {
				break // a create refused: not a lost session
			}
			if c.keys.again() {
				c.mu.Unlock()
				return nil, false, &retryError{err}
			}
			// The session is lost: start a new one.
			c.keys = newKeys()
			c.streams.reset()
			newSession = true
			c.mu.Unlock()
			continue
		}
		c.mu.Unlock()
		return nil, newSession, err
	}
}

// upgrade dials once. status is the HTTP status of a refused upgrade, 0
// when the server did not answer.
func (c *Conn) upgrade(ctx context.Context, session url.Values) (*websocket.Conn, int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	u, _ := url.Parse(c.url)
	q := u.Query()
	for k, vs := range c.opts.Query {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	for k, vs := range session {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("client: %w", err)
	}
	req.Header = c.opts.Header.Clone()
	if c.opts.Upgrade != nil {
		if err := c.opts.Upgrade(ctx, req); err != nil {
			return nil, -1, fmt.Errorf("client: preparing the upgrade: %w", err)
		}
	}
	ws, resp, err := websocket.Dial(ctx, req.URL.String(), &websocket.DialOptions{HTTPHeader: req.Header, HTTPClient: c.opts.HTTPClient})
	if err == nil {
		ws.SetReadLimit(c.opts.ReadLimit)
		return ws, 0, nil
	}
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != 0 {
		var body []byte
		if resp.Body != nil {
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
		}
		bare := *u
		bare.RawQuery = ""
		return nil, resp.StatusCode, &HandshakeError{Status: resp.StatusCode, Body: strings.TrimSpace(string(body)), URL: bare.String()}
	}
	return nil, 0, err
}

// retryError is a refusal worth another attempt after a backoff.
type retryError struct{ err error }

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// retryable reports whether a failed attempt should be tried again.
func retryable(err error) bool {
	var re *retryError
	if errors.As(err, &re) {
		return true
	}
	var he *HandshakeError
	if errors.As(err, &he) {
		return he.Status == http.StatusTooManyRequests || he.Status >= 500
	}
	return true
}

// backoff is the wait before failed attempt n (1-based): it doubles from
// min up to max, drawn at random from the upper half.
func backoff(n int, min, max time.Duration, rnd func(time.Duration) time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + rnd(d-half+1)
}

// run serves connections until Close or a permanent failure.
func (c *Conn) run(ws *websocket.Conn, newSession bool) {
	defer close(c.done)
	var carry *outgoing // a frame whose write failed, sent first next time
	first := true
	for {
		var lostErr error
		var proactive bool
		lostErr, proactive, carry = c.serve(ws, newSession, first, carry)
		first = false
		c.lost(lostErr, proactive)
		select {
		case <-c.closing:
			c.finish(ErrClosed)
			return
		default:
		}
		var err error
		ws, newSession, err = c.reconnect()
		if err != nil {
			c.finish(err)
			return
		}
	}
}

// reconnect dials with backoff until it succeeds, Close is called, or an
// attempt fails for good.
func (c *Conn) reconnect() (*websocket.Conn, bool, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	for attempt := 1; ; attempt++ {
		ws, newSession, err := c.connect(ctx)
		if err == nil {
			return ws, newSession, nil
		}
		if ctx.Err() != nil {
			return nil, false, ErrClosed
		}
		c.status(Status{Attempt: attempt, Err: err, Session: c.sessionID()})
		if !retryable(err) {
			return nil, false, err
		}
		wait := backoff(attempt, c.opts.MinBackoff, c.opts.MaxBackoff, rand.N[time.Duration])
		if c.opts.Logger != nil {
			c.opts.Logger.Debug("client: reconnect attempt failed", "attempt", attempt, "wait", wait, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, false, ErrClosed
		}
	}
}

func (c *Conn) sessionID() string {
	if c.opts.NoSession {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys.id
}

func (c *Conn) status(s Status) {
	if c.opts.OnStatus != nil {
		c.opts.OnStatus(s)
	}
}

// lost records the end of a connection and fails the requests written on
// it.
func (c *Conn) lost(err error, proactive bool) {
	// A Cut that arrived as the connection ended otherwise: it is dropped.
	select {
	case dropped := <-c.cutNow:
		close(dropped)
	default:
	}
	c.mu.Lock()
	c.connected = false
	c.lostAt = time.Now()
	gen := c.gen
	for _, r := range c.pending {
		if r.gen == gen {
			close(r.lost)
			r.gen = -1
		}
	}
	c.mu.Unlock()
	c.status(Status{Err: err, Proactive: proactive, Session: c.sessionID()})
}

func (c *Conn) finish(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	for _, r := range c.pending {
		if r.gen != -1 {
			close(r.lost)
			r.gen = -1
		}
	}
	c.mu.Unlock()
	c.signal()
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// serve runs one connection until it is lost, closed by MaxAge or by
// Close.
func (c *Conn) serve(ws *websocket.Conn, newSession, first bool, carry *outgoing) (err error, proactive bool, unsent *outgoing) {
	defer ws.CloseNow()
	c.mu.Lock()
	c.gen++
	gen := c.gen
	c.connected = true
	c.lastData = time.Now()
	c.stats.Connects++
	if !first {
		c.stats.Reconnects++
	}
	resumed := !first && !newSession
	lostAt := c.lostAt
	id := c.keys.id
	c.syncRIDs = map[string]time.Time{}
	if newSession {
		c.stats.SessionsLost++
		c.push(Message{Kind: KindSessionLost, Session: id})
	}
	c.mu.Unlock()
	if c.opts.NoSession {
		id = ""
	}
	c.status(Status{Connected: true, Session: id, Resumed: resumed, NewSession: newSession})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	readErr := make(chan error, 1)
	go func() {
		for {
			typ, data, err := ws.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			c.received(gen, typ, data, lostAt, !first)
		}
	}()
	write := func(data []byte) error {
		wctx, cancel := context.WithTimeout(ctx, c.opts.WriteTimeout)
		defer cancel()
		err := ws.Write(wctx, websocket.MessageText, data)
		if err == nil {
			c.mu.Lock()
			c.lastData = time.Now()
			c.mu.Unlock()
		}
		return err
	}
	sendSync := func(initial bool) error {
		c.mu.Lock()
		if c.opts.NoSession || c.noSessions || !initial && !c.syncAnswered {
			c.mu.Unlock()
			return nil
		}
		c.nextRID++
		rid := "sync-" + strconv.Itoa(c.nextRID)
		c.syncRIDs[rid] = time.Now()
		frame, _ := json.Marshal(map[string]any{"mullet": "sync", "positions": c.streams.positions(), "$rid": rid})
		if c.opts.Logger != nil {
			c.opts.Logger.Debug("client: sync", "rid", rid, "initial", initial, "frame", string(frame))
		}
		c.streams.restart(time.Now())
		c.mu.Unlock()
		return write(frame)
	}
	c.mu.Lock()
	c.syncing = !c.opts.NoSession && !c.noSessions
	c.timed = false
	c.mu.Unlock()
	if err := sendSync(true); err != nil {
		return err, false, carry
	}
	if carry != nil {
		if err := c.writeOut(gen, *carry, write); err != nil {
			return err, false, carry
		}
	}

	var ping <-chan time.Time
	if c.opts.PingInterval > 0 {
		t := time.NewTicker(c.opts.PingInterval)
		defer t.Stop()
		ping = t.C
	}
	var age <-chan time.Time
	if c.opts.MaxAge > 0 {
		t := time.NewTimer(c.opts.MaxAge)
		defer t.Stop()
		age = t.C
	}
	tick := min(c.opts.GapTimeout/2, time.Second)
	if c.opts.IdleSync > 0 {
		tick = min(tick, c.opts.IdleSync/2)
	}
	ticker := time.NewTicker(max(tick, 10*time.Millisecond))
	defer ticker.Stop()
	pingFailed := make(chan error, 1)
	for {
		select {
		case out := <-c.sendq:
			c.drained()
			if err := c.writeOut(gen, out, write); err != nil {
				return err, false, &out
			}
		case <-ping:
			go func() {
				pctx, cancel := context.WithTimeout(ctx, c.opts.PingTimeout)
				defer cancel()
				if err := ws.Ping(pctx); err != nil && ctx.Err() == nil {
					select {
					case pingFailed <- fmt.Errorf("client: no pong within %v: %w", c.opts.PingTimeout, err):
					default:
					}
				}
			}()
		case err := <-pingFailed:
			return err, false, nil
		case now := <-ticker.C:
			c.mu.Lock()
			// One gap sync at a time: a replay takes a while, and syncs
			// piled on it would replay the same messages again. An answer
			// that never came (a failed invocation's error frame has no
			// $rid) stops holding them back after staleSync.
			gap := c.streams.waiting(now, c.opts.GapTimeout) && !c.awaitingSync(now)
			idle := c.opts.IdleSync > 0 && now.Sub(c.lastData) >= c.opts.IdleSync
			resync := c.resync && now.Sub(c.lastData) >= c.opts.GapTimeout
			c.resync = false
			c.mu.Unlock()
			if gap || idle || resync {
				if err := sendSync(resync); err != nil {
					return err, false, nil
				}
			}
		case <-age:
			c.mu.Lock()
			c.stats.Proactive++
			c.mu.Unlock()
			closeSoon(ws, websocket.StatusNormalClosure, "reconnecting before the connection's time limit")
			return errors.New("client: reconnecting before the connection's time limit (Options.MaxAge)"), true, nil
		case <-c.syncNow:
			if err := sendSync(false); err != nil {
				return err, false, nil
			}
		case dropped := <-c.cutNow:
			// Nothing more is written on ws: frames sent from now on wait
			// for the next connection.
			close(dropped)
			return errors.New("client: connection dropped by Cut"), false, nil
		case err := <-readErr:
			return err, false, nil
		case <-c.closing:
			closeSoon(ws, websocket.StatusNormalClosure, "")
			return ErrClosed, false, nil
		}
	}
}

// awaitingSync reports whether a sync sent less than staleSync ago has not
// been answered yet; c.mu is held.
func (c *Conn) awaitingSync(now time.Time) bool {
	stale := max(10*c.opts.GapTimeout, staleSync)
	for _, sent := range c.syncRIDs {
		if now.Sub(sent) < stale {
			return true
		}
	}
	return false
}

// staleSync is the least time after which an unanswered sync no longer
// holds back gap syncs.
const staleSync = 5 * time.Second

// closeSoon closes with a handshake, waiting at most a second for it.
func closeSoon(ws *websocket.Conn, code websocket.StatusCode, reason string) {
	done := make(chan struct{})
	go func() { ws.Close(code, reason); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		ws.CloseNow()
	}
}

// writeOut writes a queued frame; a request's frame is bound to this
// connection so that its loss fails the request.
func (c *Conn) writeOut(gen int, out outgoing, write func([]byte) error) error {
	if out.rid != "" {
		c.mu.Lock()
		r, ok := c.pending[out.rid]
		if ok {
			r.gen = gen
		}
		c.mu.Unlock()
		if !ok {
			return nil // given up on already
		}
	}
	return write(out.data)
}

// received handles one frame of connection gen.
func (c *Conn) received(gen int, typ websocket.MessageType, data []byte, lostAt time.Time, resume bool) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastData = now
	if typ == websocket.MessageBinary {
		c.push(Message{Kind: KindApp, Data: data, Binary: true, Raw: data})
		return
	}
	var f wireFrame
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &f) != nil {
		c.push(Message{Kind: KindApp, Data: data, Raw: data})
		return
	}
	if f.RID == "" && f.Mullet == "" && !c.syncAnswered && len(c.syncRIDs) > 0 && isGatewayForbidden(trimmed) {
		// API Gateway itself refused the first sync: the app has no
		// $default route, so no sessions (docs/protocol.md 1). Its error
		// frame cannot carry the $rid.
		clear(c.syncRIDs)
		c.noSessions = true
		c.syncing = false
		for g := range c.streams.groups {
			c.releaseAll(g)
		}
		return
	}
	if _, ours := c.syncRIDs[f.RID]; f.RID != "" && ours {
		delete(c.syncRIDs, f.RID)
		if f.Mullet == "error" && f.Code == "internal" {
			// The server failed to sync: try again after GapTimeout.
			c.resync = true
			return
		}
		if f.Mullet != "synced" {
			// Not a session app: the sync reached the app (or its
			// refusal). Stop syncing; deliver durable messages as they
			// come.
			c.noSessions = true
			c.syncing = false
			for g := range c.streams.groups {
				c.releaseAll(g)
			}
			return
		}
	} else if f.RID != "" {
		if r, ok := c.pending[f.RID]; ok {
			delete(c.pending, f.RID)
			m := Message{Kind: KindApp, Data: data, Raw: data}
			if f.Reply != nil {
				m.Data = f.Reply
				var s string
				if json.Unmarshal(f.Reply, &s) == nil {
					m.Data = []byte(s)
				}
			}
			r.reply <- m
			return
		}
	}
	switch f.Mullet {
	case "":
		c.push(Message{Kind: KindApp, Data: data, Raw: data})
	case "msg":
		m := Message{Kind: KindDurable, Group: f.Group, Position: Position{Epoch: f.Epoch, Offset: f.Offset}, Data: f.Data, Raw: data}
		if f.Text != nil {
			m.Data, m.Text = []byte(*f.Text), true
		}
		if c.syncing {
			c.stats.Replayed++
		}
		if c.noSessions || c.opts.NoSession {
			// No replay to wait for: start from the first message seen.
			st := c.streams.get(f.Group)
			if !st.known {
				st.pos, st.known = Position{Epoch: m.Position.Epoch, Offset: m.Position.Offset - 1}, true
			}
		}
		if st := c.streams.groups[f.Group]; st != nil && st.known && m.Position.Offset <= st.pos.Offset {
			c.stats.Duplicates++
			return
		}
		if st := c.streams.groups[f.Group]; (st == nil || !st.known) && c.syncAnswered && len(c.syncRIDs) == 0 {
			// A group joined since the last sync: ask where it starts
			// now rather than after GapTimeout.
			select {
			case c.syncNow <- struct{}{}:
			default:
			}
		}
		for _, d := range c.streams.add(m, now) {
			c.push(d)
		}
	case "discontinuity":
		to := Position{Epoch: f.Epoch, Offset: f.Offset}
		var from Position
		if f.From != nil {
			from = *f.From
		}
		c.streams.discontinuity(f.Group, to)
		c.stats.Discontinuities++
		c.push(Message{Kind: KindDiscontinuity, Group: f.Group, Position: to, From: from, Raw: data})
	case "synced":
		c.syncAnswered = true
		if c.opts.Logger != nil {
			c.opts.Logger.Debug("client: synced", "rid", f.RID, "more", f.More, "groups", len(f.Groups), "inbox", len(c.inbox))
		}
		for g, p := range f.Groups {
			for _, d := range c.streams.synced(g, p) {
				c.push(d)
			}
		}
		if c.syncing && !c.timed {
			c.timed = true
			if resume && !lostAt.IsZero() {
				c.stats.ResumeLatencies = append(c.stats.ResumeLatencies, now.Sub(lostAt))
			}
		}
		if f.More {
			// The replay was cut to a page (docs/protocol.md 2.3): sync
			// again from the positions it moved to.
			select {
			case c.syncNow <- struct{}{}:
			default:
			}
			return
		}
		// Groups with messages that synced did not place: the session
		// joined them after the sync was served. Ask again at once; after
		// maxAsks, deliver what they hold from its lowest offset.
		for g, asks := range c.streams.unplaced() {
			if asks >= maxAsks {
				c.releaseAll(g)
				continue
			}
			select {
			case c.syncNow <- struct{}{}:
			default:
			}
		}
		c.syncing = false
	case "presence":
		c.push(Message{Kind: KindPresence, Group: f.Group, Event: f.Event, Session: f.Session, Data: f.Data, Raw: data})
	case "error":
		c.push(Message{Kind: KindError, Event: f.Code, Data: []byte(f.Message), Raw: data})
	default:
		// Unknown control frames are ignored (docs/protocol.md 1).
	}
}

// releaseAll delivers what a group buffered, in offset order, when no
// position will come.
func (c *Conn) releaseAll(group string) {
	st := c.streams.get(group)
	if st.known || len(st.buf) == 0 {
		return
	}
	lowest := int64(-1)
	for off := range st.buf {
		if lowest < 0 || off < lowest {
			lowest = off
		}
	}
	for _, d := range c.streams.synced(group, Position{Epoch: st.buf[lowest].Position.Epoch, Offset: lowest - 1}) {
		c.push(d)
	}
}

// push appends to the inbox; c.mu is held.
func (c *Conn) push(m Message) {
	c.inbox = append(c.inbox, m)
	c.signal()
}

// isGatewayForbidden reports whether a frame is API Gateway's answer to a
// frame without a route: {"message": "Forbidden", "connectionId": ...,
// "requestId": ...}.
func isGatewayForbidden(frame []byte) bool {
	var e map[string]json.RawMessage
	if json.Unmarshal(frame, &e) != nil || len(e) != 3 || e["connectionId"] == nil || e["requestId"] == nil {
		return false
	}
	return string(e["message"]) == `"Forbidden"`
}

// maxAsks is how many syncs may leave a group that received messages
// without a position before the client starts it from its lowest
// buffered offset.
const maxAsks = 3

// wireFrame is any JSON object frame, read for the members the client
// uses.
type wireFrame struct {
	Mullet  string              `json:"mullet"`
	RID     string              `json:"$rid"`
	Reply   json.RawMessage     `json:"$reply"`
	Group   string              `json:"group"`
	Epoch   string              `json:"epoch"`
	Offset  int64               `json:"offset"`
	Data    json.RawMessage     `json:"data"`
	Text    *string             `json:"text"`
	From    *Position           `json:"from"`
	Groups  map[string]Position `json:"groups"`
	More    bool                `json:"more"`
	Event   string              `json:"event"`
	Session string              `json:"session"`
	Code    string              `json:"code"`
	Message string              `json:"message"`
}

// Receive returns the next message: app frames as they arrive, durable
// messages exactly once and in order per group, discontinuities, presence
// events. It blocks until one arrives, ctx ends, or the Conn ends (then
// the error is ErrClosed or why the server refused to take it back).
func (c *Conn) Receive(ctx context.Context) (Message, error) {
	for {
		c.mu.Lock()
		if len(c.inbox) > 0 {
			m := c.inbox[0]
			c.inbox[0] = Message{}
			c.inbox = c.inbox[1:]
			if len(c.inbox) > 0 {
				c.signal()
			}
			c.mu.Unlock()
			return m, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return Message{}, err
		}
		select {
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-c.wake:
		}
	}
}

// Send queues a text frame for the app. It is written on the current
// connection, or on the next one while disconnected. While connected and
// the queue is full, Send waits (bounded by ctx); while disconnected it
// returns ErrQueueFull instead. A frame whose write fails is written again
// on the next connection; once written, it is never sent again.
func (c *Conn) Send(ctx context.Context, data []byte) error {
	return c.enqueue(ctx, outgoing{data: data})
}

// SendJSON queues v encoded as JSON, as Send does.
func (c *Conn) SendJSON(ctx context.Context, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("client: SendJSON: %w", err)
	}
	return c.Send(ctx, data)
}

func (c *Conn) enqueue(ctx context.Context, out outgoing) error {
	for {
		c.mu.Lock()
		err, connected := c.err, c.connected
		c.mu.Unlock()
		if err != nil {
			return err
		}
		select {
		case c.sendq <- out:
			return nil
		default:
		}
		if !connected {
			return ErrQueueFull
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-c.notFull:
		case <-t.C:
		}
		t.Stop()
	}
}

func (c *Conn) drained() {
	select {
	case c.notFull <- struct{}{}:
	default:
	}
}

// Request sends v, which must encode as a JSON object, tagged with a new
// "$rid", and returns the reply tagged with the same ID (docs/protocol.md
// 7): the reply frame as it is for a JSON object reply, the "$reply"
// member otherwise (a text reply as its text). An error frame in API
// Gateway's shape is returned as a *ReplyError. Without a deadline on ctx,
// Options.RequestTimeout bounds the wait; ErrRequestTimeout says it
// passed. If the connection is lost after the request was written and
// before its reply, the error is ErrConnectionLost: the request is not
// sent again.
func (c *Conn) Request(ctx context.Context, v any) (Message, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Message{}, fmt.Errorf("client: Request: %w", err)
	}
	return c.RequestRaw(ctx, data)
}

// RequestRaw is Request with a frame already encoded: a JSON object.
func (c *Conn) RequestRaw(ctx context.Context, frame []byte) (Message, error) {
	frame = bytes.TrimSpace(frame)
	if len(frame) < 2 || frame[0] != '{' || !json.Valid(frame) {
		return Message{}, ErrNotObject
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.RequestTimeout)
		defer cancel()
	}
	c.mu.Lock()
	c.nextReq++
	rid := "r-" + strconv.Itoa(c.nextReq)
	r := &request{reply: make(chan Message, 1), lost: make(chan struct{})}
	c.pending[rid] = r
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, rid)
		c.mu.Unlock()
	}()
	var tagged bytes.Buffer
	tagged.WriteString(`{"$rid":`)
	tagged.WriteString(strconv.Quote(rid))
	if rest := bytes.TrimSpace(frame[1:]); len(rest) > 0 && rest[0] != '}' {
		tagged.WriteByte(',')
	}
	tagged.Write(bytes.TrimSpace(frame[1:]))
	if err := c.enqueue(ctx, outgoing{data: tagged.Bytes(), rid: rid}); err != nil {
		return Message{}, err
	}
	select {
	case m := <-r.reply:
		var e struct {
			Message      *string `json:"message"`
			ConnectionID string  `json:"connectionId"`
			RequestID    string  `json:"requestId"`
		}
		if json.Unmarshal(m.Raw, &e) == nil && e.Message != nil && e.ConnectionID != "" && e.RequestID != "" {
			return m, &ReplyError{Message: *e.Message, RequestID: e.RequestID, Reply: m}
		}
		return m, nil
	case <-r.lost:
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return Message{}, err
		}
		return Message{}, ErrConnectionLost
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Message{}, fmt.Errorf("%w (%s)", ErrRequestTimeout, ctx.Err())
		}
		return Message{}, ctx.Err()
	}
}

// Session returns what resuming the session needs in another process
// (Options.Resume): its ID, secrets and positions. It holds a secret.
func (c *Conn) Session() SessionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return SessionState{ID: c.keys.id, Secret: c.keys.secret, Candidates: append([]string(nil), c.keys.candidates...), Positions: c.streams.positions()}
}

// Positions returns the position of each durable group delivered so far.
func (c *Conn) Positions() map[string]Position {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams.positions()
}

// Stats returns the counts so far.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.ResumeLatencies = append([]time.Duration(nil), s.ResumeLatencies...)
	return s
}

// Connected reports whether a connection is open now.
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// Cut drops the current connection without a close handshake, as a
// network change would; the Conn reconnects and resumes. It returns once
// the connection is dropped, so that frames sent after it go on the next
// one (requests in flight on the dropped one fail with ErrConnectionLost).
// Without a connection it does nothing. For tests and for callers that
// know the network changed.
func (c *Conn) Cut() {
	if !c.Connected() {
		return
	}
	dropped := make(chan struct{})
	select {
	case c.cutNow <- dropped:
		<-dropped
	case <-c.done:
	}
}

// Close closes the connection normally and stops reconnecting. Frames
// still queued are not sent. Receive then returns what was already
// received, then ErrClosed.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { close(c.closing) })
	<-c.done
	return nil
}
