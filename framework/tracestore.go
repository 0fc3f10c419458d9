package framework

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mulletgo/mullet/store"
)

// tracedStore traces every call of a store.Store as a client span
// "mullet.store <Method>", a child of the caller's span. Bind wraps the
// Runtime's store in it when tracing is on.
type tracedStore struct {
	next   store.Store
	tracer trace.Tracer
}

// tracedContinuity traces store.Continuity the same way.
type tracedContinuity struct {
	next   store.Continuity
	tracer trace.Tracer
}

var (
	_ store.Store      = (*tracedStore)(nil)
	_ store.Continuity = (*tracedContinuity)(nil)
)

func (t *tracedStore) PutConnection(ctx context.Context, c store.Connection) (err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" PutConnection", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	err = t.next.PutConnection(ctx, c)
	return
}

func (t *tracedStore) GetConnection(ctx context.Context, id string) (r0 store.Connection, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" GetConnection", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.GetConnection(ctx, id)
	return
}

func (t *tracedStore) DeleteConnection(ctx context.Context, id string) (err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" DeleteConnection", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	err = t.next.DeleteConnection(ctx, id)
	return
}

func (t *tracedStore) LoadState(ctx context.Context, id string) (r0 store.State, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" LoadState", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.LoadState(ctx, id)
	return
}

func (t *tracedStore) SaveState(ctx context.Context, id string, data []byte, expect int64) (r0 int64, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" SaveState", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.SaveState(ctx, id, data, expect)
	return
}

func (t *tracedStore) JoinGroup(ctx context.Context, group string, id string) (err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" JoinGroup", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	err = t.next.JoinGroup(ctx, group, id)
	return
}

func (t *tracedStore) LeaveGroup(ctx context.Context, group string, id string) (err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" LeaveGroup", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	err = t.next.LeaveGroup(ctx, group, id)
	return
}

func (t *tracedStore) GroupMembers(ctx context.Context, group string) (r0 []string, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" GroupMembers", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.GroupMembers(ctx, group)
	return
}

func (t *tracedStore) Arrive(ctx context.Context, key string, size int, a store.Arrival, expires time.Time) (r0 store.Barrier, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" Arrive", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.Arrive(ctx, key, size, a, expires)
	return
}

func (t *tracedStore) RestartBarrier(ctx context.Context, key string, size int, a store.Arrival, expires time.Time, prev time.Time) (r0 store.Barrier, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" RestartBarrier", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.RestartBarrier(ctx, key, size, a, expires, prev)
	return
}

func (t *tracedStore) Evict(ctx context.Context, key string, connectionID string) (r0 store.Barrier, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" Evict", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.Evict(ctx, key, connectionID)
	return
}

func (t *tracedStore) ExpireBarrier(ctx context.Context, key string, expires time.Time) (r0 store.Barrier, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" ExpireBarrier", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.ExpireBarrier(ctx, key, expires)
	return
}

func (t *tracedContinuity) CreateSession(ctx context.Context, s store.Session) (err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" CreateSession", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	err = t.next.CreateSession(ctx, s)
	return
}

func (t *tracedContinuity) ResumeSession(ctx context.Context, id string, secretHash []byte, nextHash []byte, connectionID string, expires time.Time) (r0 store.Session, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" ResumeSession", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.ResumeSession(ctx, id, secretHash, nextHash, connectionID, expires)
	return
}

func (t *tracedContinuity) GetSession(ctx context.Context, id string) (r0 store.Session, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" GetSession", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.GetSession(ctx, id)
	return
}

func (t *tracedContinuity) DetachSession(ctx context.Context, id string, connectionID string, expires time.Time) (err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" DetachSession", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	err = t.next.DetachSession(ctx, id, connectionID, expires)
	return
}

func (t *tracedContinuity) DeleteSession(ctx context.Context, id string) (err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" DeleteSession", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	err = t.next.DeleteSession(ctx, id)
	return
}

func (t *tracedContinuity) SessionJoin(ctx context.Context, id string, group string, m store.Membership) (err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" SessionJoin", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	err = t.next.SessionJoin(ctx, id, group, m)
	return
}

func (t *tracedContinuity) SessionLeave(ctx context.Context, id string, group string) (err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" SessionLeave", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	err = t.next.SessionLeave(ctx, id, group)
	return
}

func (t *tracedContinuity) LoadSessionState(ctx context.Context, id string) (r0 store.State, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" LoadSessionState", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.LoadSessionState(ctx, id)
	return
}

func (t *tracedContinuity) SaveSessionState(ctx context.Context, id string, data []byte, expect int64) (r0 int64, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" SaveSessionState", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.SaveSessionState(ctx, id, data, expect)
	return
}

func (t *tracedContinuity) Append(ctx context.Context, stream string, data []byte, opts store.StreamOptions) (r0 store.StreamMessage, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" Append", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.Append(ctx, stream, data, opts)
	return
}

func (t *tracedContinuity) ReadStream(ctx context.Context, stream string, after store.Position, opts store.StreamOptions) (r0 store.StreamRead, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" ReadStream", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.ReadStream(ctx, stream, after, opts)
	return
}

func (t *tracedContinuity) StreamTail(ctx context.Context, stream string) (r0 store.Position, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" StreamTail", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.StreamTail(ctx, stream)
	return
}

func (t *tracedContinuity) PutPresence(ctx context.Context, group string, p store.Presence) (r0 *store.Presence, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" PutPresence", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.PutPresence(ctx, group, p)
	return
}

func (t *tracedContinuity) AwayPresence(ctx context.Context, group string, session string, connectionID string, until time.Time) (err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" AwayPresence", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	err = t.next.AwayPresence(ctx, group, session, connectionID, until)
	return
}

func (t *tracedContinuity) LeavePresence(ctx context.Context, group string, session string, cond store.PresenceCondition) (r0 store.Presence, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" LeavePresence", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, err = t.next.LeavePresence(ctx, group, session, cond)
	return
}

func (t *tracedContinuity) ListPresence(ctx context.Context, group string) (r0 []store.Presence, r1 []store.Presence, err error) {
	ctx, span := t.tracer.Start(ctx, SpanStore+" ListPresence", trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endStoreSpan(span, err) }()
	r0, r1, err = t.next.ListPresence(ctx, group)
	return
}
