package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mulletgo/mullet/store"
)

// API is the part of the DynamoDB client that the store uses.
// *dynamodb.Client satisfies it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Defaults for the zero fields of Options.
const (
	DefaultMaxAttempts = 8
	DefaultBaseBackoff = 25 * time.Millisecond
	DefaultMaxBackoff  = time.Second
)

// Options configures a Store. A nil *Options and zero fields mean defaults.
type Options struct {
	// Now returns the current time, against which items' ttl is compared;
	// nil means time.Now. Tests use it to move time forward.
	Now func() time.Time
	// MaxAttempts bounds the attempts of each request, the first one
	// included, while DynamoDB throttles it, answers 5xx or cannot be
	// reached; 0 means DefaultMaxAttempts and 1 disables retries.
	MaxAttempts int
	// BaseBackoff is the upper bound of the random delay before the first
	// retry; each retry doubles it, up to MaxBackoff. 0 means
	// DefaultBaseBackoff.
	BaseBackoff time.Duration
	// MaxBackoff caps the delay between two attempts. 0 means
	// DefaultMaxBackoff.
	MaxBackoff time.Duration
}

// Store is a store.Store on one DynamoDB table. It is safe for concurrent
// use. The zero value is not usable; call New.
type Store struct {
	client      API
	table       string
	now         func() time.Time
	maxAttempts int
	backoff     backoff
	callOpts    []func(*dynamodb.Options)
}

var _ store.Store = (*Store)(nil)

// New returns a Store keeping its items in table through client. It makes
// no request; call CheckTable to find out whether the table is there. Every
// request the store makes uses its own retryer (see Options), whatever the
// client's.
func New(client API, table string, opts *Options) *Store {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = DefaultBaseBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.BaseBackoff {
		o.MaxBackoff = o.BaseBackoff
	}
	s := &Store{
		client:      client,
		table:       table,
		now:         o.Now,
		maxAttempts: o.MaxAttempts,
		backoff:     backoff{base: o.BaseBackoff, max: o.MaxBackoff},
	}
	retryer := retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = o.MaxAttempts
		so.MaxBackoff = o.MaxBackoff
		so.Backoff = s.backoff
		so.RateLimiter = ratelimit.None
	})
	s.callOpts = []func(*dynamodb.Options){func(do *dynamodb.Options) {
		do.Retryer = retryer
		do.RetryMaxAttempts = 0
	}}
	return s
}

// Table returns the name of the store's table.
func (s *Store) Table() string { return s.table }

// backoff is exponential backoff with full jitter: before retry i (from 1)
// it waits a random time in (0, min(max, base*2^(i-1))].
type backoff struct{ base, max time.Duration }

// BackoffDelay implements retry.BackoffDelayer.
func (b backoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	return b.delay(attempt), nil
}

func (b backoff) delay(attempt int) time.Duration {
	d := b.max
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 31 {
		if x := b.base << (attempt - 1); x > 0 && x < b.max {
			d = x
		}
	}
	return time.Duration(rand.Int64N(int64(d))) + 1
}

// Attribute names and key prefixes of the table layout (see the package
// documentation).
const (
	attrPK          = "pk"
	attrSK          = "sk"
	attrTTL         = "ttl"
	attrExpires     = "exp"
	attrConnectedAt = "connectedAt"
	attrSourceIP    = "sourceIp"
	attrUserAgent   = "userAgent"
	attrAuth        = "auth"
	attrIdentity    = "idn"
	attrSession     = "sess"
	attrState       = "state"
	attrVersion     = "ver"
	attrGroups      = "groups"
	attrSize        = "size"
	attrCount       = "n"
	attrOrder       = "o"
	arrivalPrefix   = "a_"

	connPrefix    = "conn#"
	groupPrefix   = "group#"
	barrierPrefix = "barrier#"
	connSK        = "conn"
	barrierSK     = "barrier"
)

// itemOverhead approximates the key and the other attributes of a
// connection item; SaveState refuses state that cannot fit beside it, the
// same check as memstore's.
const itemOverhead = 128

type connItem struct {
	PK          string            `dynamodbav:"pk"`
	SK          string            `dynamodbav:"sk"`
	ConnectedAt int64             `dynamodbav:"connectedAt"`
	SourceIP    string            `dynamodbav:"sourceIp,omitempty"`
	UserAgent   string            `dynamodbav:"userAgent,omitempty"`
	Auth        map[string]string `dynamodbav:"auth,omitempty"`
	Identity    *identityItem     `dynamodbav:"idn,omitempty"`
	TTL         int64             `dynamodbav:"ttl,omitempty"`
	Version     int64             `dynamodbav:"ver"`
	State       []byte            `dynamodbav:"state,omitempty"`
	Groups      []string          `dynamodbav:"groups,stringset,omitempty"`
	Session     string            `dynamodbav:"sess,omitempty"`
}

// connection returns the record as the store.Connection of id.
func (it *connItem) connection(id string) store.Connection {
	c := store.Connection{
		ID: id, ConnectedAt: time.UnixMilli(it.ConnectedAt),
		SourceIP: it.SourceIP, UserAgent: it.UserAgent, Session: it.Session,
	}
	if len(it.Auth) > 0 {
		c.Authorizer = it.Auth
	}
	if it.Identity != nil {
		c.Identity = store.Identity(*it.Identity)
	}
	if it.TTL != 0 {
		c.Expires = time.Unix(it.TTL, 0)
	}
	return c
}

// identityItem is store.Identity, only the fields that are set.
type identityItem struct {
	AccessKey string `dynamodbav:"ak,omitempty"`
	AccountID string `dynamodbav:"acct,omitempty"`
	Caller    string `dynamodbav:"caller,omitempty"`
	User      string `dynamodbav:"user,omitempty"`
	UserARN   string `dynamodbav:"arn,omitempty"`
	APIKeyID  string `dynamodbav:"key,omitempty"`
}

type memberItem struct {
	PK  string `dynamodbav:"pk"`
	SK  string `dynamodbav:"sk"`
	TTL int64  `dynamodbav:"ttl,omitempty"`
}

type arrivalItem struct {
	Payload []byte `dynamodbav:"p,omitempty"`
	At      int64  `dynamodbav:"t"`
}

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: pk},
		attrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

func connKey(id string) map[string]types.AttributeValue { return itemKey(connPrefix+id, connSK) }

func memberKey(group, id string) map[string]types.AttributeValue {
	return itemKey(groupPrefix+group, connPrefix+id)
}

func barrierKey(key string) map[string]types.AttributeValue {
	return itemKey(barrierPrefix+key, barrierSK)
}

var (
	idEscaper   = strings.NewReplacer("%", "%25", "[", "%5B", "]", "%5D")
	idUnescaper = strings.NewReplacer("%25", "%", "%5B", "[", "%5D", "]")
)

// arrivalAttr is the name of the attribute holding id's arrival.
func arrivalAttr(id string) string { return arrivalPrefix + idEscaper.Replace(id) }

// ttlOf returns t as a ttl value: Unix seconds, rounded up so that an item
// never expires before t.
func ttlOf(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}

// nowSec returns the current time in the ttl's unit. An item is live while
// its ttl is greater than nowSec.
func (s *Store) nowSec() int64 { return s.now().Unix() }

// live is the condition that an item exists and has not expired.
func live(now int64) expression.ConditionBuilder {
	return expression.And(expression.AttributeExists(expression.Name(attrPK)), unexpired(now))
}

// unexpired is the condition that an item has no ttl or a ttl after now.
func unexpired(now int64) expression.ConditionBuilder {
	return expression.Or(
		expression.AttributeNotExists(expression.Name(attrTTL)),
		expression.Name(attrTTL).GreaterThan(expression.Value(now)),
	)
}

// expired reports whether an item read back is absent or past its ttl.
func expired(item map[string]types.AttributeValue, now int64) bool {
	if len(item) == 0 {
		return true
	}
	ttl, ok, err := numberAttr(item, attrTTL)
	return err == nil && ok && ttl <= now
}

func numberAttr(item map[string]types.AttributeValue, name string) (int64, bool, error) {
	av, ok := item[name]
	if !ok {
		return 0, false, nil
	}
	var n int64
	if err := attributevalue.Unmarshal(av, &n); err != nil {
		return 0, true, fmt.Errorf("dynamostore: attribute %s: %w", name, err)
	}
	return n, true, nil
}

func isConditionFailed(err error) (*types.ConditionalCheckFailedException, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf, true
	}
	return nil, false
}

// getItem reads an item with a consistent read. names, if any, project it.
func (s *Store) getItem(ctx context.Context, op string, k map[string]types.AttributeValue, names ...string) (map[string]types.AttributeValue, error) {
	in := &dynamodb.GetItemInput{TableName: &s.table, Key: k, ConsistentRead: new(true)}
	if len(names) > 0 {
		proj := expression.NamesList(expression.Name(names[0]))
		for _, n := range names[1:] {
			proj = proj.AddNames(expression.Name(n))
		}
		expr, err := expression.NewBuilder().WithProjection(proj).Build()
		if err != nil {
			return nil, fmt.Errorf("dynamostore: %s: %w", op, err)
		}
		in.ProjectionExpression = expr.Projection()
		in.ExpressionAttributeNames = expr.Names()
	}
	out, err := s.client.GetItem(ctx, in, s.callOpts...)
	if err != nil {
		return nil, s.fail(op, err)
	}
	return out.Item, nil
}

// PutConnection implements store.Store. Overwriting a record drops its
// state and its group memberships.
func (s *Store) PutConnection(ctx context.Context, c store.Connection) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	it := connItem{
		PK: connPrefix + c.ID, SK: connSK,
		ConnectedAt: c.ConnectedAt.UnixMilli(),
		SourceIP:    c.SourceIP, UserAgent: c.UserAgent,
		Auth: c.Authorizer, Session: c.Session,
	}
	if len(it.Auth) == 0 {
		it.Auth = nil
	}
	if c.Identity != (store.Identity{}) {
		id := identityItem(c.Identity)
		it.Identity = &id
	}
	if !c.Expires.IsZero() {
		it.TTL = ttlOf(c.Expires)
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("dynamostore: PutConnection: %w", err)
	}
	out, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: item, ReturnValues: types.ReturnValueAllOld,
	}, s.callOpts...)
	if err != nil {
		return s.fail("PutConnection", err)
	}
	// The record replaced may have been in groups: its memberships go too.
	var old connItem
	if len(out.Attributes) > 0 {
		if err := attributevalue.UnmarshalMap(out.Attributes, &old); err == nil && len(old.Groups) > 0 {
			return s.deleteMemberships(ctx, "PutConnection", c.ID, old.Groups)
		}
	}
	return nil
}

// GetConnection implements store.Store. ConnectedAt has millisecond
// resolution and Expires whole seconds (rounded up).
func (s *Store) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	if err := ctx.Err(); err != nil {
		return store.Connection{}, err
	}
	item, err := s.getItem(ctx, "GetConnection", connKey(id), attrPK, attrConnectedAt, attrSourceIP, attrUserAgent, attrAuth, attrIdentity, attrTTL, attrSession)
	if err != nil {
		return store.Connection{}, err
	}
	if expired(item, s.nowSec()) {
		return store.Connection{}, store.ErrNotFound
	}
	var it connItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return store.Connection{}, fmt.Errorf("dynamostore: GetConnection: %w", err)
	}
	return it.connection(id), nil
}

// DeleteConnection implements store.Store. It reads the connection's
// groups, deletes its memberships, then the record, so that a failure part
// way leaves the record to find the memberships by when it is retried. The
// delete returns the record as it was, and memberships of groups joined
// meanwhile are deleted too; a JoinGroup whose membership write lands after
// that leaves a membership behind until the connection's ttl.
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	item, err := s.getItem(ctx, "DeleteConnection", connKey(id), attrPK, attrGroups)
	if err != nil || len(item) == 0 {
		return err
	}
	var before connItem
	if err := attributevalue.UnmarshalMap(item, &before); err != nil {
		return fmt.Errorf("dynamostore: DeleteConnection: %w", err)
	}
	if err := s.deleteMemberships(ctx, "DeleteConnection", id, before.Groups); err != nil {
		return err
	}
	out, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: &s.table, Key: connKey(id), ReturnValues: types.ReturnValueAllOld,
	}, s.callOpts...)
	if err != nil {
		return s.fail("DeleteConnection", err)
	}
	// A JoinGroup that ran between the read and the delete added a group.
	var after connItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &after); err == nil && len(after.Groups) > 0 {
		var extra []string
		for _, g := range after.Groups {
			if !slices.Contains(before.Groups, g) {
				extra = append(extra, g)
			}
		}
		return s.deleteMemberships(ctx, "DeleteConnection", id, extra)
	}
	return nil
}

// deleteMemberships deletes id's membership items of groups with
// BatchWriteItem, retrying unprocessed items.
func (s *Store) deleteMemberships(ctx context.Context, op, id string, groups []string) error {
	for chunk := range slices.Chunk(groups, 25) {
		reqs := make([]types.WriteRequest, len(chunk))
		for i, g := range chunk {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: memberKey(g, id)}}
		}
		pending := map[string][]types.WriteRequest{s.table: reqs}
		for attempt := 1; ; attempt++ {
			out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending}, s.callOpts...)
			if err != nil {
				return s.fail(op, err)
			}
			if len(out.UnprocessedItems[s.table]) == 0 {
				break
			}
			if attempt >= s.maxAttempts {
				return fmt.Errorf("dynamostore: %s: %w: %d group memberships still unprocessed after %d BatchWriteItem attempts",
					op, store.ErrThrottled, len(out.UnprocessedItems[s.table]), attempt)
			}
			pending = out.UnprocessedItems
			select {
			case <-ctx.Done():
				return fmt.Errorf("dynamostore: %s: %w", op, ctx.Err())
			case <-time.After(s.backoff.delay(attempt)):
			}
		}
	}
	return nil
}

// LoadState implements store.Store.
func (s *Store) LoadState(ctx context.Context, id string) (store.State, error) {
	if err := ctx.Err(); err != nil {
		return store.State{}, err
	}
	item, err := s.getItem(ctx, "LoadState", connKey(id), attrPK, attrState, attrVersion, attrTTL)
	if err != nil {
		return store.State{}, err
	}
	if expired(item, s.nowSec()) {
		return store.State{}, store.ErrNotFound
	}
	var it connItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return store.State{}, fmt.Errorf("dynamostore: LoadState: %w", err)
	}
	return store.State{Data: it.State, Version: it.Version}, nil
}

// SaveState implements store.Store: one UpdateItem conditioned on the
// record being live and at version expect.
func (s *Store) SaveState(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	return s.saveVersioned(ctx, "SaveState", connKey(id), len(id), data, expect)
}

// saveVersioned writes the state of the item at key (a connection record
// or a session) with one UpdateItem conditioned on the item being live and
// at version expect. A refusal tells a gone item (ErrNotFound) from a moved
// version (ErrConflict) by the item it returned, or one read where the
// backend returns none.
func (s *Store) saveVersioned(ctx context.Context, op string, key map[string]types.AttributeValue, idLen int, data []byte, expect int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(data)+idLen+itemOverhead > store.MaxItemSize {
		return 0, store.ErrTooLarge
	}
	now := s.nowSec()
	upd := expression.Set(expression.Name(attrVersion), expression.Value(expect+1))
	if len(data) > 0 {
		upd = upd.Set(expression.Name(attrState), expression.Value(data))
	} else {
		upd = upd.Remove(expression.Name(attrState))
	}
	cond := expression.And(live(now), expression.Name(attrVersion).Equal(expression.Value(expect)))
	_, err := s.update(ctx, key, upd, cond, false)
	if err == nil {
		return expect + 1, nil
	}
	ccf, ok := isConditionFailed(err)
	if !ok {
		return 0, s.fail(op, err)
	}
	old := ccf.Item
	if old == nil {
		if old, err = s.getItem(ctx, op, key, attrPK, attrTTL); err != nil {
			return 0, err
		}
	}
	if expired(old, now) {
		return 0, store.ErrNotFound
	}
	return 0, store.ErrConflict
}

// update is one conditional UpdateItem on the item at key, built with the
// expression builder. With allNew it returns the item as written. A refused
// condition carries the item as it was, where the server supports that
// (ReturnValuesOnConditionCheckFailure ALL_OLD; callers read the item
// where it does not).
func (s *Store) update(ctx context.Context, key map[string]types.AttributeValue, upd expression.UpdateBuilder, cond expression.ConditionBuilder, allNew bool) (*dynamodb.UpdateItemOutput, error) {
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build expression: %w", err)
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                           &s.table,
		Key:                                 key,
		UpdateExpression:                    expr.Update(),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if allNew {
		in.ReturnValues = types.ReturnValueAllNew
	}
	return s.client.UpdateItem(ctx, in, s.callOpts...)
}

// JoinGroup implements store.Store: an UpdateItem adds the group to the
// record's groups (conditioned on the record being live), then a PutItem
// writes the membership with the record's ttl.
func (s *Store) JoinGroup(ctx context.Context, group, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	upd := expression.Add(expression.Name(attrGroups), expression.Value(&types.AttributeValueMemberSS{Value: []string{group}}))
	out, err := s.update(ctx, connKey(id), upd, live(s.nowSec()), true)
	if err != nil {
		if _, ok := isConditionFailed(err); ok {
			return store.ErrNotFound
		}
		return s.fail("JoinGroup", err)
	}
	ttl, _, err := numberAttr(out.Attributes, attrTTL)
	if err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(memberItem{PK: groupPrefix + group, SK: connPrefix + id, TTL: ttl})
	if err != nil {
		return fmt.Errorf("dynamostore: JoinGroup: %w", err)
	}
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}, s.callOpts...); err != nil {
		return s.fail("JoinGroup", err)
	}
	return nil
}

// LeaveGroup implements store.Store: it deletes the membership, then
// removes the group from the record's groups.
func (s *Store) LeaveGroup(ctx context.Context, group, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: memberKey(group, id)}, s.callOpts...); err != nil {
		return s.fail("LeaveGroup", err)
	}
	upd := expression.Delete(expression.Name(attrGroups), expression.Value(&types.AttributeValueMemberSS{Value: []string{group}}))
	_, err := s.update(ctx, connKey(id), upd, expression.AttributeExists(expression.Name(attrPK)), false)
	if _, ok := isConditionFailed(err); err != nil && !ok {
		return s.fail("LeaveGroup", err)
	}
	return nil
}

// GroupMembers implements store.Store: a consistent Query of the group's
// partition, without expired memberships.
func (s *Store) GroupMembers(ctx context.Context, group string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	keyCond := expression.KeyAnd(
		expression.Key(attrPK).Equal(expression.Value(groupPrefix+group)),
		expression.Key(attrSK).BeginsWith(connPrefix),
	)
	expr, err := expression.NewBuilder().
		WithKeyCondition(keyCond).
		WithFilter(unexpired(s.nowSec())).
		WithProjection(expression.NamesList(expression.Name(attrSK))).
		Build()
	if err != nil {
		return nil, fmt.Errorf("dynamostore: GroupMembers: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            new(true),
	}
	ids := []string{}
	for {
		out, err := s.client.Query(ctx, in, s.callOpts...)
		if err != nil {
			return nil, s.fail("GroupMembers", err)
		}
		for _, item := range out.Items {
			var m memberItem
			if err := attributevalue.UnmarshalMap(item, &m); err != nil {
				return nil, fmt.Errorf("dynamostore: GroupMembers: %w", err)
			}
			ids = append(ids, strings.TrimPrefix(m.SK, connPrefix))
		}
		if len(out.LastEvaluatedKey) == 0 {
			return ids, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// maxArriveRounds bounds the conditional writes of one Arrive: the write,
// and a retry after an expired barrier was deleted or the barrier changed
// between a refusal and the read that explains it.
const maxArriveRounds = 3

// Arrive implements store.Store. The arrival is ONE UpdateItem with
// ReturnValues ALL_NEW, admitted if the barrier is absent, or live with
// room and without this connection. Only a refused arrival reads.
func (s *Store) Arrive(ctx context.Context, key string, size int, a store.Arrival, expires time.Time) (store.Barrier, error) {
	if err := ctx.Err(); err != nil {
		return store.Barrier{}, err
	}
	attr := arrivalAttr(a.ConnectionID)
	arrival, err := attributevalue.Marshal(arrivalItem{Payload: a.Payload, At: a.At.UnixMilli()})
	if err != nil {
		return store.Barrier{}, fmt.Errorf("dynamostore: Arrive: %w", err)
	}
	upd := expression.Set(expression.NameNoDotSplit(attr), expression.Value(arrival)).
		Add(expression.Name(attrCount), expression.Value(1)).
		Set(expression.Name(attrSize), expression.IfNotExists(expression.Name(attrSize), expression.Value(size))).
		// exp is when the barrier stops waiting (Unix ms); DynamoDB's own
		// ttl deletion comes later, so that the timeout still finds it.
		Set(expression.Name(attrExpires), expression.IfNotExists(expression.Name(attrExpires), expression.Value(expires.UnixMilli()))).
		Set(expression.Name(attrTTL), expression.IfNotExists(expression.Name(attrTTL), expression.Value(ttlOf(expires.Add(store.ExpiredBarrierRetention))))).
		// The list of arrivals in write order: the same write appends to
		// it, so its last entry names the completing arrival.
		Set(expression.Name(attrOrder), expression.ListAppend(
			expression.IfNotExists(expression.Name(attrOrder), expression.Value(&types.AttributeValueMemberL{Value: []types.AttributeValue{}})),
			expression.Value(&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: a.ConnectionID}}})))

	var replaced []store.Arrival
	for round := 1; ; round++ {
		now := s.now().UnixMilli()
		cond := expression.Or(
			expression.AttributeNotExists(expression.Name(attrPK)),
			expression.And(
				expression.Name(attrExpires).GreaterThan(expression.Value(now)),
				expression.Name(attrCount).LessThan(expression.Name(attrSize)),
				expression.AttributeNotExists(expression.NameNoDotSplit(attr)),
			),
		)
		out, err := s.update(ctx, barrierKey(key), upd, cond, true)
		if err == nil {
			b, err := parseBarrier(key, out.Attributes)
			b.Expired = replaced
			return b, err
		}
		ccf, ok := isConditionFailed(err)
		if !ok {
			return store.Barrier{}, s.fail("Arrive", err)
		}

		// Refused: find out why from the item the condition saw (DynamoDB)
		// or from one consistent read (servers that do not return it).
		old := ccf.Item
		if old == nil {
			if old, err = s.getItem(ctx, "Arrive", barrierKey(key)); err != nil {
				return store.Barrier{}, err
			}
		}
		switch {
		case len(old) == 0:
			// Deleted since (expired and cleaned up): arrive again.
		case barrierExpired(old, now):
			gone, err := s.deleteBarrier(ctx, "Arrive", key, expression.Name(attrExpires).Equal(expression.Value(old[attrExpires])))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return store.Barrier{}, err
			}
			if err == nil && !gone.Complete() {
				replaced = gone.Arrivals
			}
		default:
			b, err := parseBarrier(key, old)
			if err != nil {
				return store.Barrier{}, err
			}
			if _, dup := old[attr]; dup {
				b.Duplicate = true
				return b, nil
			}
			if len(b.Arrivals) >= b.Size {
				return b, store.ErrBarrierFull
			}
			// Changed since (an eviction): arrive again.
		}
		if round >= maxArriveRounds {
			return store.Barrier{}, fmt.Errorf("dynamostore: Arrive %q: %w: the barrier changed under %d conditional writes", key, store.ErrConflict, round)
		}
	}
}

// RestartBarrier implements store.Store: one PutItem of the new generation,
// conditioned on the item being the complete generation that expires at
// prev.
func (s *Store) RestartBarrier(ctx context.Context, key string, size int, a store.Arrival, expires, prev time.Time) (store.Barrier, error) {
	if err := ctx.Err(); err != nil {
		return store.Barrier{}, err
	}
	arrival, err := attributevalue.Marshal(arrivalItem{Payload: a.Payload, At: a.At.UnixMilli()})
	if err != nil {
		return store.Barrier{}, fmt.Errorf("dynamostore: RestartBarrier: %w", err)
	}
	item := barrierKey(key)
	item[arrivalAttr(a.ConnectionID)] = arrival
	item[attrCount] = &types.AttributeValueMemberN{Value: "1"}
	item[attrSize] = &types.AttributeValueMemberN{Value: strconv.Itoa(size)}
	item[attrExpires] = &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.UnixMilli(), 10)}
	item[attrTTL] = &types.AttributeValueMemberN{Value: strconv.FormatInt(ttlOf(expires.Add(store.ExpiredBarrierRetention)), 10)}
	item[attrOrder] = &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: a.ConnectionID}}}
	expr, err := expression.NewBuilder().WithCondition(expression.And(
		expression.Name(attrExpires).Equal(expression.Value(prev.UnixMilli())),
		expression.Name(attrCount).GreaterThanEqual(expression.Name(attrSize)),
	)).Build()
	if err != nil {
		return store.Barrier{}, fmt.Errorf("dynamostore: RestartBarrier: %w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &s.table,
		Item:                      item,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}, s.callOpts...)
	if _, ok := isConditionFailed(err); ok {
		return store.Barrier{}, fmt.Errorf("dynamostore: RestartBarrier %q: %w: not the complete generation that expires at %v", key, store.ErrConflict, prev.UnixMilli())
	}
	if err != nil {
		return store.Barrier{}, s.fail("RestartBarrier", err)
	}
	return parseBarrier(key, item)
}

// deleteBarrier deletes a barrier item on cond and returns it as it was;
// ErrNotFound if cond does not hold.
func (s *Store) deleteBarrier(ctx context.Context, op, key string, cond expression.ConditionBuilder) (store.Barrier, error) {
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return store.Barrier{}, fmt.Errorf("dynamostore: %s: %w", op, err)
	}
	out, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &s.table,
		Key:                       barrierKey(key),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueAllOld,
	}, s.callOpts...)
	if _, ok := isConditionFailed(err); ok {
		return store.Barrier{}, store.ErrNotFound
	}
	if err != nil {
		return store.Barrier{}, s.fail(op, err)
	}
	return parseBarrier(key, out.Attributes)
}

// ExpireBarrier implements store.Store: one DeleteItem conditioned on the
// barrier's expiry and on its being incomplete.
func (s *Store) ExpireBarrier(ctx context.Context, key string, expires time.Time) (store.Barrier, error) {
	if err := ctx.Err(); err != nil {
		return store.Barrier{}, err
	}
	return s.deleteBarrier(ctx, "ExpireBarrier", key, expression.And(
		expression.Name(attrExpires).Equal(expression.Value(expires.UnixMilli())),
		expression.Name(attrCount).LessThan(expression.Name(attrSize)),
	))
}

// barrierExpired reports whether a barrier item read back is past its
// expiry (now in Unix ms).
func barrierExpired(item map[string]types.AttributeValue, now int64) bool {
	exp, ok, err := numberAttr(item, attrExpires)
	return err == nil && ok && exp <= now
}

// Evict implements store.Store: one UpdateItem removing the arrival and
// decrementing n, conditioned on the arrival being there and the barrier
// live.
func (s *Store) Evict(ctx context.Context, key, connectionID string) (store.Barrier, error) {
	if err := ctx.Err(); err != nil {
		return store.Barrier{}, err
	}
	// The arrival's place in the order list is needed to remove it: one
	// consistent read finds it, and the write is conditioned on it, so a
	// concurrent change makes it read again. Evictions only happen when a
	// participant is found gone, so the read is off the common path.
	attr := expression.NameNoDotSplit(arrivalAttr(connectionID))
	for round := 1; ; round++ {
		item, err := s.getItem(ctx, "Evict", barrierKey(key))
		if err != nil {
			return store.Barrier{}, err
		}
		now := s.now().UnixMilli()
		if len(item) == 0 || barrierExpired(item, now) {
			return store.Barrier{}, store.ErrNotFound
		}
		if _, ok := item[arrivalAttr(connectionID)]; !ok {
			return store.Barrier{}, store.ErrNotFound
		}
		upd := expression.Remove(attr).
			Set(expression.Name(attrCount), expression.Name(attrCount).Minus(expression.Value(1)))
		cond := expression.And(
			expression.AttributeExists(attr),
			expression.Name(attrExpires).GreaterThan(expression.Value(now)),
		)
		if i := orderIndex(item, connectionID); i >= 0 {
			at := expression.Name(fmt.Sprintf("%s[%d]", attrOrder, i))
			upd = upd.Remove(at)
			cond = expression.And(cond, at.Equal(expression.Value(connectionID)))
		}
		out, err := s.update(ctx, barrierKey(key), upd, cond, true)
		if err == nil {
			return parseBarrier(key, out.Attributes)
		}
		if _, ok := isConditionFailed(err); !ok {
			return store.Barrier{}, s.fail("Evict", err)
		}
		if round >= maxArriveRounds {
			return store.Barrier{}, fmt.Errorf("dynamostore: Evict %q: %w: the barrier changed under %d conditional writes", key, store.ErrConflict, round)
		}
	}
}

// orderIndex returns the position of id in a barrier item's order list,
// or -1.
func orderIndex(item map[string]types.AttributeValue, id string) int {
	l, ok := item[attrOrder].(*types.AttributeValueMemberL)
	if !ok {
		return -1
	}
	for i, v := range l.Value {
		if sv, ok := v.(*types.AttributeValueMemberS); ok && sv.Value == id {
			return i
		}
	}
	return -1
}

// parseBarrier decodes a barrier item.
func parseBarrier(key string, item map[string]types.AttributeValue) (store.Barrier, error) {
	b := store.Barrier{Key: key}
	size, _, err := numberAttr(item, attrSize)
	if err != nil {
		return b, err
	}
	b.Size = int(size)
	if exp, ok, err := numberAttr(item, attrExpires); err != nil {
		return b, err
	} else if ok {
		b.Expires = time.UnixMilli(exp)
	}
	for name, av := range item {
		if !strings.HasPrefix(name, arrivalPrefix) {
			continue
		}
		var ai arrivalItem
		if err := attributevalue.Unmarshal(av, &ai); err != nil {
			return b, fmt.Errorf("dynamostore: barrier %q: attribute %s: %w", key, name, err)
		}
		b.Arrivals = append(b.Arrivals, store.Arrival{
			ConnectionID: idUnescaper.Replace(strings.TrimPrefix(name, arrivalPrefix)),
			Payload:      ai.Payload,
			At:           time.UnixMilli(ai.At),
		})
	}
	// Write order, from the order list; arrivals it does not name (none,
	// unless the item was written by hand) go last, by time.
	pos := func(id string) int {
		if i := orderIndex(item, id); i >= 0 {
			return i
		}
		return len(b.Arrivals)
	}
	slices.SortFunc(b.Arrivals, func(x, y store.Arrival) int {
		if c := pos(x.ConnectionID) - pos(y.ConnectionID); c != 0 {
			return c
		}
		if c := x.At.Compare(y.At); c != 0 {
			return c
		}
		return strings.Compare(x.ConnectionID, y.ConnectionID)
	})
	return b, nil
}
