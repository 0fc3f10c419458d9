package dynamostore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mathrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mulletgo/mullet/store"
)

var _ store.Continuity = (*Store)(nil)

// Attribute names and key prefixes of sessions, streams and presence (see
// the package documentation).
const (
	attrSecret    = "sh"
	attrConn      = "conn"
	attrSessGroup = "grp"
	attrEpoch     = "ep"
	attrData      = "d"
	attrAt        = "at"
	attrAppendID  = "aid"
	attrEvents    = "ev"

	sessionPrefix  = "session#"
	sessionSK      = "session"
	streamPrefix   = "stream#"
	messagePrefix  = "m#"
	presencePrefix = "presence#"
	memberPrefix   = "s#"
)

func sessionKey(id string) map[string]types.AttributeValue {
	return itemKey(sessionPrefix+id, sessionSK)
}

func messageSK(offset int64) string { return fmt.Sprintf("%s%020d", messagePrefix, offset) }

func presenceKey(group, session string) map[string]types.AttributeValue {
	return itemKey(presencePrefix+group, memberPrefix+session)
}

func sAttr(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func nAttr(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func membershipAttr(m store.Membership) types.AttributeValue {
	v := map[string]types.AttributeValue{"e": sAttr(m.At.Epoch), "o": nAttr(m.At.Offset)}
	if m.Presence != nil {
		v["p"] = &types.AttributeValueMemberB{Value: m.Presence}
		v["ev"] = &types.AttributeValueMemberBOOL{Value: m.Events}
	}
	return &types.AttributeValueMemberM{Value: v}
}

// CreateSession implements store.Continuity: one PutItem conditioned on no
// live session having the ID.
func (s *Store) CreateSession(ctx context.Context, r store.Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	groups := map[string]types.AttributeValue{}
	for g, p := range r.Groups {
		groups[g] = membershipAttr(p)
	}
	item := map[string]types.AttributeValue{
		attrPK: sAttr(sessionPrefix + r.ID), attrSK: sAttr(sessionSK),
		attrSecret:    &types.AttributeValueMemberB{Value: r.SecretHash},
		attrSessGroup: &types.AttributeValueMemberM{Value: groups},
		attrVersion:   nAttr(0),
	}
	if r.ConnectionID != "" {
		item[attrConn] = sAttr(r.ConnectionID)
	}
	if len(r.Authorizer) > 0 {
		av, err := attributevalue.Marshal(r.Authorizer)
		if err != nil {
			return fmt.Errorf("dynamostore: CreateSession: %w", err)
		}
		item[attrAuth] = av
	}
	if !r.Expires.IsZero() {
		item[attrTTL] = nAttr(ttlOf(r.Expires))
	}
	cond := expression.Or(expression.AttributeNotExists(expression.Name(attrPK)), expression.Name(attrTTL).LessThanEqual(expression.Value(s.nowSec())))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("dynamostore: CreateSession: %w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: item,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, s.callOpts...)
	if _, ok := isConditionFailed(err); ok {
		return store.ErrConflict
	}
	if err != nil {
		return s.fail("CreateSession", err)
	}
	return nil
}

// parseSession decodes a session item.
func parseSession(id string, item map[string]types.AttributeValue) (store.Session, error) {
	r := store.Session{ID: id, Groups: map[string]store.Membership{}}
	if b, ok := item[attrSecret].(*types.AttributeValueMemberB); ok {
		r.SecretHash = b.Value
	}
	if c, ok := item[attrConn].(*types.AttributeValueMemberS); ok {
		r.ConnectionID = c.Value
	}
	if av, ok := item[attrAuth]; ok {
		if err := attributevalue.Unmarshal(av, &r.Authorizer); err != nil {
			return r, fmt.Errorf("dynamostore: session %q: auth: %w", id, err)
		}
		if len(r.Authorizer) == 0 {
			r.Authorizer = nil
		}
	}
	if m, ok := item[attrSessGroup].(*types.AttributeValueMemberM); ok {
		for g, av := range m.Value {
			var p struct {
				E  string `dynamodbav:"e"`
				O  int64  `dynamodbav:"o"`
				P  []byte `dynamodbav:"p"`
				EV bool   `dynamodbav:"ev"`
			}
			if err := attributevalue.Unmarshal(av, &p); err != nil {
				return r, fmt.Errorf("dynamostore: session %q: group %q: %w", id, g, err)
			}
			r.Groups[g] = store.Membership{At: store.Position{Epoch: p.E, Offset: p.O}, Presence: p.P, Events: p.EV}
		}
	}
	ttl, ok, err := numberAttr(item, attrTTL)
	if err != nil {
		return r, err
	}
	if ok {
		r.Expires = time.Unix(ttl, 0)
	}
	return r, nil
}

// ResumeSession implements store.Continuity: one UpdateItem conditioned on
// the session being live and holding secretHash, with ReturnValues ALL_OLD.
// Only a refusal reads (to tell ErrNotFound from ErrDenied), on servers
// that do not return the item with the refusal.
func (s *Store) ResumeSession(ctx context.Context, id string, secretHash, nextHash []byte, connectionID string, expires time.Time) (store.Session, error) {
	if err := ctx.Err(); err != nil {
		return store.Session{}, err
	}
	now := s.nowSec()
	upd := expression.Set(expression.Name(attrSecret), expression.Value(&types.AttributeValueMemberB{Value: nextHash})).
		Set(expression.Name(attrConn), expression.Value(connectionID)).
		Set(expression.Name(attrTTL), expression.Value(ttlOf(expires)))
	cond := expression.And(live(now), expression.Name(attrSecret).Equal(expression.Value(&types.AttributeValueMemberB{Value: secretHash})))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return store.Session{}, fmt.Errorf("dynamostore: ResumeSession: %w", err)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: sessionKey(id),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, s.callOpts...)
	if err == nil {
		return parseSession(id, out.Attributes)
	}
	ccf, ok := isConditionFailed(err)
	if !ok {
		return store.Session{}, s.fail("ResumeSession", err)
	}
	old := ccf.Item
	if old == nil {
		if old, err = s.getItem(ctx, "ResumeSession", sessionKey(id), attrPK, attrTTL, attrSecret); err != nil {
			return store.Session{}, err
		}
	}
	if expired(old, now) {
		return store.Session{}, store.ErrNotFound
	}
	if b, ok := old[attrSecret].(*types.AttributeValueMemberB); ok && bytes.Equal(b.Value, secretHash) {
		// The item changed between the write and the read: a concurrent
		// resume with the same secret won; this one is refused too.
		return store.Session{}, store.ErrDenied
	}
	return store.Session{}, store.ErrDenied
}

// GetSession implements store.Continuity.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	if err := ctx.Err(); err != nil {
		return store.Session{}, err
	}
	item, err := s.getItem(ctx, "GetSession", sessionKey(id), attrPK, attrSecret, attrConn, attrAuth, attrSessGroup, attrTTL)
	if err != nil {
		return store.Session{}, err
	}
	if expired(item, s.nowSec()) {
		return store.Session{}, store.ErrNotFound
	}
	return parseSession(id, item)
}

// DetachSession implements store.Continuity: one UpdateItem conditioned on
// the session being live and bound to connectionID.
func (s *Store) DetachSession(ctx context.Context, id, connectionID string, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	upd := expression.Remove(expression.Name(attrConn)).Set(expression.Name(attrTTL), expression.Value(ttlOf(expires)))
	cond := expression.And(live(s.nowSec()), expression.Name(attrConn).Equal(expression.Value(connectionID)))
	_, err := s.update(ctx, sessionKey(id), upd, cond, false)
	if _, ok := isConditionFailed(err); ok {
		return nil
	}
	if err != nil {
		return s.fail("DetachSession", err)
	}
	return nil
}

// DeleteSession implements store.Continuity.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: sessionKey(id)}, s.callOpts...); err != nil {
		return s.fail("DeleteSession", err)
	}
	return nil
}

func sessionGroupName(group string) expression.NameBuilder {
	return expression.Name(attrSessGroup).AppendName(expression.NameNoDotSplit(group))
}

// SessionJoin implements store.Continuity: one UpdateItem of the group's
// entry in the session's grp map, conditioned on the session being live.
func (s *Store) SessionJoin(ctx context.Context, id, group string, m store.Membership) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	upd := expression.Set(sessionGroupName(group), expression.Value(membershipAttr(m)))
	_, err := s.update(ctx, sessionKey(id), upd, live(s.nowSec()), false)
	if _, ok := isConditionFailed(err); ok {
		return store.ErrNotFound
	}
	if err != nil {
		return s.fail("SessionJoin", err)
	}
	return nil
}

// SessionLeave implements store.Continuity.
func (s *Store) SessionLeave(ctx context.Context, id, group string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	upd := expression.Remove(sessionGroupName(group))
	_, err := s.update(ctx, sessionKey(id), upd, expression.AttributeExists(expression.Name(attrPK)), false)
	if _, ok := isConditionFailed(err); err != nil && !ok {
		return s.fail("SessionLeave", err)
	}
	return nil
}

// LoadSessionState implements store.Continuity.
func (s *Store) LoadSessionState(ctx context.Context, id string) (store.State, error) {
	if err := ctx.Err(); err != nil {
		return store.State{}, err
	}
	item, err := s.getItem(ctx, "LoadSessionState", sessionKey(id), attrPK, attrState, attrVersion, attrTTL)
	if err != nil {
		return store.State{}, err
	}
	if expired(item, s.nowSec()) {
		return store.State{}, store.ErrNotFound
	}
	var st store.State
	if b, ok := item[attrState].(*types.AttributeValueMemberB); ok {
		st.Data = b.Value
	}
	if v, _, err := numberAttr(item, attrVersion); err != nil {
		return store.State{}, err
	} else {
		st.Version = v
	}
	return st, nil
}

// SaveSessionState implements store.Continuity: one UpdateItem conditioned
// on the session being live and at version expect.
func (s *Store) SaveSessionState(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	return s.saveVersioned(ctx, "SaveSessionState", sessionKey(id), len(id), data, expect)
}

// maxAppendRounds bounds the conditional writes of one Append under
// contention.
const maxAppendRounds = 64

// streamItemOverhead approximates a message item's key and attributes,
// with an AppendID of up to 64 bytes.
const streamItemOverhead = 96 + 64

// maxAppendID is the longest StreamOptions.AppendID Append takes.
const maxAppendID = 64

// randomID returns 12 random URL-safe characters: a new stream epoch, or
// the ID of an Append whose caller gave none.
func randomID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// tail is the newest message item of a stream, live or not.
type tail struct {
	offset   int64
	epoch    string
	at       int64 // Unix milliseconds
	appendID string
	live     bool
	found    bool
}

// streamTail reads the newest message item of a stream: one consistent
// Query, newest first, Limit 1, projected to its key, epoch, time, append
// ID and ttl.
func (s *Store) streamTail(ctx context.Context, op, stream string) (tail, error) {
	keyCond := expression.KeyAnd(
		expression.Key(attrPK).Equal(expression.Value(streamPrefix+stream)),
		expression.Key(attrSK).BeginsWith(messagePrefix),
	)
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).
		WithProjection(expression.NamesList(expression.Name(attrSK), expression.Name(attrEpoch), expression.Name(attrAt), expression.Name(attrAppendID), expression.Name(attrTTL))).Build()
	if err != nil {
		return tail{}, fmt.Errorf("dynamostore: %s: %w", op, err)
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: new(false), Limit: new(int32(1)), ConsistentRead: new(true),
	}, s.callOpts...)
	if err != nil {
		return tail{}, s.fail(op, err)
	}
	if len(out.Items) == 0 {
		return tail{}, nil
	}
	it := out.Items[0]
	t := tail{found: true, live: !expired(it, s.nowSec())}
	if sk, ok := it[attrSK].(*types.AttributeValueMemberS); ok {
		t.offset, err = strconv.ParseInt(strings.TrimPrefix(sk.Value, messagePrefix), 10, 64)
		if err != nil {
			return tail{}, fmt.Errorf("dynamostore: %s: stream %q: bad message key %q", op, stream, sk.Value)
		}
	}
	if ep, ok := it[attrEpoch].(*types.AttributeValueMemberS); ok {
		t.epoch = ep.Value
	}
	if id, ok := it[attrAppendID].(*types.AttributeValueMemberS); ok {
		t.appendID = id.Value
	}
	if at, ok := it[attrAt].(*types.AttributeValueMemberN); ok {
		t.at, _ = strconv.ParseInt(at.Value, 10, 64)
	}
	return t, nil
}

// Append implements store.Continuity. It reads the stream's newest message
// (one Query) and writes the next offset with one PutItem conditioned on
// that offset being free; a lost race reads again. Uncontended, an Append
// costs one Query and one PutItem.
//
// Each message item carries its Append's ID (opts.AppendID, or a random
// one), so that a PutItem the SDK retried after its first attempt was
// applied (the answer lost, or a 5xx) is recognised in the item its
// refusal returns, and a caller's retry with the same AppendID in the
// newest message: neither adds the message twice.
func (s *Store) Append(ctx context.Context, stream string, data []byte, opts store.StreamOptions) (store.StreamMessage, error) {
	if err := ctx.Err(); err != nil {
		return store.StreamMessage{}, err
	}
	if len(data)+len(stream)+streamItemOverhead > store.MaxItemSize {
		return store.StreamMessage{}, store.ErrTooLarge
	}
	if len(opts.AppendID) > maxAppendID {
		return store.StreamMessage{}, fmt.Errorf("dynamostore: Append: AppendID of %d bytes; at most %d", len(opts.AppendID), maxAppendID)
	}
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(attrPK))).Build()
	if err != nil {
		return store.StreamMessage{}, fmt.Errorf("dynamostore: Append: %w", err)
	}
	appendID := opts.AppendID
	if appendID == "" {
		appendID = randomID()
	}
	for round := 1; ; round++ {
		t, err := s.streamTail(ctx, "Append", stream)
		if err != nil {
			return store.StreamMessage{}, err
		}
		if t.found && t.appendID == appendID {
			// A retry of the Append whose message is the newest.
			return store.StreamMessage{Position: store.Position{Offset: t.offset, Epoch: t.epoch}, Data: data, At: time.UnixMilli(t.at)}, nil
		}
		now := s.now()
		m := store.StreamMessage{Position: store.Position{Offset: t.offset + 1, Epoch: t.epoch}, Data: data, At: time.UnixMilli(now.UnixMilli())} // as stored, and as ReadStream returns it
		if !t.live {
			m.Epoch = randomID()
		}
		item := map[string]types.AttributeValue{
			attrPK: sAttr(streamPrefix + stream), attrSK: sAttr(messageSK(m.Offset)),
			attrEpoch: sAttr(m.Epoch), attrAt: nAttr(now.UnixMilli()),
			attrData:     &types.AttributeValueMemberB{Value: data},
			attrTTL:      nAttr(ttlOf(now.Add(opts.TTL))),
			attrAppendID: sAttr(appendID),
		}
		_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &s.table, Item: item, ConditionExpression: cond.Condition(), ExpressionAttributeNames: cond.Names(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}, s.callOpts...)
		if err == nil {
			return m, nil
		}
		ccf, ok := isConditionFailed(err)
		if !ok {
			return store.StreamMessage{}, s.fail("Append", err)
		}
		if id, ok := ccf.Item[attrAppendID].(*types.AttributeValueMemberS); ok && id.Value == appendID {
			// The offset is taken by this very item: an attempt whose
			// answer was lost applied it, and the SDK retried.
			return m, nil
		}
		if round >= maxAppendRounds {
			return store.StreamMessage{}, fmt.Errorf("dynamostore: Append %q: %w: lost %d races for the next offset", stream, store.ErrConflict, round)
		}
		if round > 2 {
			select {
			case <-ctx.Done():
				return store.StreamMessage{}, fmt.Errorf("dynamostore: Append: %w", ctx.Err())
			case <-time.After(time.Duration(mathrand.Int64N(int64(time.Millisecond) << min(round-2, 4)))):
			}
		}
	}
}

// ReadStream implements store.Continuity: the tail (one Query), then the
// offsets wanted (one consistent Query per 1 MB page). With opts.Limit it
// asks only for the Limit offsets after the position (offsets have no
// gaps), and asks for the next ones only if some of those had expired.
func (s *Store) ReadStream(ctx context.Context, stream string, after store.Position, opts store.StreamOptions) (store.StreamRead, error) {
	if err := ctx.Err(); err != nil {
		return store.StreamRead{}, err
	}
	t, err := s.streamTail(ctx, "ReadStream", stream)
	if err != nil {
		return store.StreamRead{}, err
	}
	var tp store.Position
	if t.live {
		tp = store.Position{Epoch: t.epoch, Offset: t.offset}
	}
	if tp.IsZero() || !after.IsZero() && (after.Epoch != "" && after.Epoch != tp.Epoch || after.Offset >= tp.Offset) {
		return store.SelectAfter(nil, after, tp), nil
	}
	from := max(tp.Offset-int64(opts.Window)+1, 1)
	if !after.IsZero() {
		if after.Offset+1 < from {
			return store.StreamRead{Tail: tp, Discontinuity: true}, nil
		}
		from = after.Offset + 1
	}
	var win []store.StreamMessage
	for from <= tp.Offset {
		to := tp.Offset
		if opts.Limit > 0 {
			to = min(to, from+int64(opts.Limit-len(win))-1)
		}
		if win, err = s.readMessages(ctx, stream, from, to, win); err != nil {
			return store.StreamRead{}, err
		}
		if opts.Limit <= 0 || len(win) >= opts.Limit {
			break
		}
		if !after.IsZero() && (len(win) == 0 || win[0].Offset != after.Offset+1) {
			break // the message after the position expired: a discontinuity
		}
		from = to + 1
	}
	r := store.SelectAfter(win, after, tp)
	if n := len(r.Messages); n > 0 && r.Messages[n-1].Offset < tp.Offset {
		r.More = true
	}
	return r, nil
}

// readMessages appends the live messages of stream at offsets from to to,
// in offset order, to win.
func (s *Store) readMessages(ctx context.Context, stream string, from, to int64, win []store.StreamMessage) ([]store.StreamMessage, error) {
	keyCond := expression.KeyAnd(
		expression.Key(attrPK).Equal(expression.Value(streamPrefix+stream)),
		expression.Key(attrSK).Between(expression.Value(messageSK(from)), expression.Value(messageSK(to))),
	)
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).WithFilter(unexpired(s.nowSec())).Build()
	if err != nil {
		return nil, fmt.Errorf("dynamostore: ReadStream: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: new(true),
	}
	for {
		out, err := s.client.Query(ctx, in, s.callOpts...)
		if err != nil {
			return nil, s.fail("ReadStream", err)
		}
		for _, it := range out.Items {
			var mi struct {
				SK string `dynamodbav:"sk"`
				EP string `dynamodbav:"ep"`
				D  []byte `dynamodbav:"d"`
				At int64  `dynamodbav:"at"`
			}
			if err := attributevalue.UnmarshalMap(it, &mi); err != nil {
				return nil, fmt.Errorf("dynamostore: ReadStream: %w", err)
			}
			off, err := strconv.ParseInt(strings.TrimPrefix(mi.SK, messagePrefix), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("dynamostore: ReadStream: bad message key %q", mi.SK)
			}
			win = append(win, store.StreamMessage{Position: store.Position{Epoch: mi.EP, Offset: off}, Data: mi.D, At: time.UnixMilli(mi.At)})
		}
		if len(out.LastEvaluatedKey) == 0 {
			return win, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// StreamTail implements store.Continuity: one Query.
func (s *Store) StreamTail(ctx context.Context, stream string) (store.Position, error) {
	if err := ctx.Err(); err != nil {
		return store.Position{}, err
	}
	t, err := s.streamTail(ctx, "StreamTail", stream)
	if err != nil {
		return store.Position{}, err
	}
	if !t.live {
		return store.Position{Offset: t.offset}, nil
	}
	return store.Position{Epoch: t.epoch, Offset: t.offset}, nil
}

func presenceItem(group string, p store.Presence) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrPK: sAttr(presencePrefix + group), attrSK: sAttr(memberPrefix + p.Session),
		attrConn: sAttr(p.ConnectionID), attrEvents: &types.AttributeValueMemberBOOL{Value: p.Events},
	}
	if len(p.Data) > 0 {
		item[attrData] = &types.AttributeValueMemberB{Value: p.Data}
	}
	if !p.Expires.IsZero() {
		item[attrTTL] = nAttr(ttlOf(p.Expires))
	}
	return item
}

func parsePresence(item map[string]types.AttributeValue) (store.Presence, error) {
	var pi struct {
		SK   string `dynamodbav:"sk"`
		Conn string `dynamodbav:"conn"`
		D    []byte `dynamodbav:"d"`
		EV   bool   `dynamodbav:"ev"`
		TTL  int64  `dynamodbav:"ttl"`
	}
	if err := attributevalue.UnmarshalMap(item, &pi); err != nil {
		return store.Presence{}, fmt.Errorf("dynamostore: presence: %w", err)
	}
	p := store.Presence{Session: strings.TrimPrefix(pi.SK, memberPrefix), ConnectionID: pi.Conn, Data: pi.D, Events: pi.EV}
	if pi.TTL != 0 {
		p.Expires = time.Unix(pi.TTL, 0)
	}
	return p, nil
}

// PutPresence implements store.Continuity: one PutItem with ReturnValues
// ALL_OLD.
func (s *Store) PutPresence(ctx context.Context, group string, p store.Presence) (*store.Presence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: presenceItem(group, p), ReturnValues: types.ReturnValueAllOld,
	}, s.callOpts...)
	if err != nil {
		return nil, s.fail("PutPresence", err)
	}
	if len(out.Attributes) == 0 {
		return nil, nil
	}
	prev, err := parsePresence(out.Attributes)
	if err != nil {
		return nil, err
	}
	return &prev, nil
}

// AwayPresence implements store.Continuity: one conditional UpdateItem.
func (s *Store) AwayPresence(ctx context.Context, group, session, connectionID string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	upd := expression.Set(expression.Name(attrTTL), expression.Value(ttlOf(until)))
	cond := expression.And(live(s.nowSec()), expression.Name(attrConn).Equal(expression.Value(connectionID)))
	_, err := s.update(ctx, presenceKey(group, session), upd, cond, false)
	if _, ok := isConditionFailed(err); ok {
		return store.ErrNotFound
	}
	if err != nil {
		return s.fail("AwayPresence", err)
	}
	return nil
}

// LeavePresence implements store.Continuity: one conditional DeleteItem
// with ReturnValues ALL_OLD.
func (s *Store) LeavePresence(ctx context.Context, group, session string, c store.PresenceCondition) (store.Presence, error) {
	if err := ctx.Err(); err != nil {
		return store.Presence{}, err
	}
	cond := expression.AttributeExists(expression.Name(attrPK))
	if c.ConnectionID != "" {
		cond = cond.And(expression.Name(attrConn).Equal(expression.Value(c.ConnectionID)))
	}
	if c.Expired {
		cond = cond.And(expression.Name(attrTTL).LessThanEqual(expression.Value(s.nowSec())))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return store.Presence{}, fmt.Errorf("dynamostore: LeavePresence: %w", err)
	}
	out, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.table, Key: presenceKey(group, session),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllOld,
	}, s.callOpts...)
	if _, ok := isConditionFailed(err); ok {
		return store.Presence{}, store.ErrNotFound
	}
	if err != nil {
		return store.Presence{}, s.fail("LeavePresence", err)
	}
	return parsePresence(out.Attributes)
}

// ListPresence implements store.Continuity: one consistent Query per 1 MB
// page of the group's presence partition.
func (s *Store) ListPresence(ctx context.Context, group string) (live, expiredOnes []store.Presence, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	keyCond := expression.Key(attrPK).Equal(expression.Value(presencePrefix + group))
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		return nil, nil, fmt.Errorf("dynamostore: ListPresence: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: new(true),
	}
	now := s.nowSec()
	for {
		out, err := s.client.Query(ctx, in, s.callOpts...)
		if err != nil {
			return nil, nil, s.fail("ListPresence", err)
		}
		for _, it := range out.Items {
			p, err := parsePresence(it)
			if err != nil {
				return nil, nil, err
			}
			if expired(it, now) {
				expiredOnes = append(expiredOnes, p)
			} else {
				live = append(live, p)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return live, expiredOnes, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
