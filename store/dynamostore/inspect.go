package dynamostore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mulletgo/mullet/store"
)

// Scanner is the DynamoDB call Inspect makes, beside API. It is not part of
// API, which lists exactly the calls the runtime makes (and so what the
// deployed function's role allows): only dev-time tools scan.
// *dynamodb.Client implements it.
type Scanner interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var (
	_ Scanner         = (*dynamodb.Client)(nil)
	_ store.Inspector = (*Store)(nil)
)

// ErrCannotScan is returned by Inspect when the store's client has no Scan
// (it does not implement Scanner).
var ErrCannotScan = fmt.Errorf("dynamostore: the client cannot Scan, which Inspect needs")

// inspectMaxItems bounds what Inspect reads: it is for a development table,
// and a table bigger than this is not one.
const inspectMaxItems = 20000

// Inspect implements store.Inspector with a Scan of the whole table
// (consistent reads, paginated), for dev-time views of a development
// table: it reads every item, so it is as costly as the table is large,
// and it stops with an error past 20,000 items. Items written while it
// scans may or may not be in the snapshot.
func (s *Store) Inspect(ctx context.Context) (store.Snapshot, error) {
	sc, ok := s.client.(Scanner)
	if !ok {
		return store.Snapshot{}, ErrCannotScan
	}
	now := s.now()
	nowSec := now.Unix()
	snap := store.Snapshot{At: now}
	groups := map[string][]string{}
	liveConn := map[string]bool{}
	presence := map[string][]store.Presence{}
	type streamAcc struct {
		tail store.Position
		n    int
	}
	streams := map[string]*streamAcc{}
	var start map[string]types.AttributeValue
	read := 0
	for {
		out, err := sc.Scan(ctx, &dynamodb.ScanInput{TableName: &s.table, ExclusiveStartKey: start, ConsistentRead: new(true)}, s.callOpts...)
		if err != nil {
			return store.Snapshot{}, s.fail("Inspect", err)
		}
		for _, item := range out.Items {
			if expired(item, nowSec) {
				continue
			}
			pk, _ := item[attrPK].(*types.AttributeValueMemberS)
			sk, _ := item[attrSK].(*types.AttributeValueMemberS)
			if pk == nil || sk == nil {
				continue
			}
			switch {
			case strings.HasPrefix(pk.Value, connPrefix) && sk.Value == connSK:
				var it connItem
				if err := attributevalue.UnmarshalMap(item, &it); err != nil {
					return store.Snapshot{}, fmt.Errorf("dynamostore: Inspect: %s: %w", pk.Value, err)
				}
				c := it.connection(strings.TrimPrefix(pk.Value, connPrefix))
				liveConn[c.ID] = true
				snap.Connections = append(snap.Connections, store.ConnectionView{Connection: c, State: store.State{Data: it.State, Version: it.Version}})
			case strings.HasPrefix(pk.Value, groupPrefix) && strings.HasPrefix(sk.Value, connPrefix):
				g := strings.TrimPrefix(pk.Value, groupPrefix)
				groups[g] = append(groups[g], strings.TrimPrefix(sk.Value, connPrefix))
			case strings.HasPrefix(pk.Value, barrierPrefix) && sk.Value == barrierSK:
				b, err := parseBarrier(strings.TrimPrefix(pk.Value, barrierPrefix), item)
				if err != nil {
					return store.Snapshot{}, err
				}
				snap.Barriers = append(snap.Barriers, b)
			case strings.HasPrefix(pk.Value, sessionPrefix) && sk.Value == sessionSK:
				id := strings.TrimPrefix(pk.Value, sessionPrefix)
				r, err := parseSession(id, item)
				if err != nil {
					return store.Snapshot{}, err
				}
				v := store.SessionView{ID: id, ConnectionID: r.ConnectionID, Authorizer: r.Authorizer, Groups: r.Groups, Expires: r.Expires}
				if b, ok := item[attrState].(*types.AttributeValueMemberB); ok {
					v.State.Data = b.Value
				}
				v.State.Version, _, _ = numberAttr(item, attrVersion)
				snap.Sessions = append(snap.Sessions, v)
			case strings.HasPrefix(pk.Value, presencePrefix) && strings.HasPrefix(sk.Value, memberPrefix):
				p, err := parsePresence(item)
				if err != nil {
					return store.Snapshot{}, err
				}
				g := strings.TrimPrefix(pk.Value, presencePrefix)
				presence[g] = append(presence[g], p)
			case strings.HasPrefix(pk.Value, streamPrefix) && strings.HasPrefix(sk.Value, messagePrefix):
				name := strings.TrimPrefix(pk.Value, streamPrefix)
				off, err := strconv.ParseInt(strings.TrimPrefix(sk.Value, messagePrefix), 10, 64)
				if err != nil {
					continue
				}
				acc := streams[name]
				if acc == nil {
					acc = &streamAcc{}
					streams[name] = acc
				}
				acc.n++
				if off > acc.tail.Offset {
					acc.tail.Offset = off
					if ep, ok := item[attrEpoch].(*types.AttributeValueMemberS); ok {
						acc.tail.Epoch = ep.Value
					}
				}
			}
		}
		read += len(out.Items)
		if read > inspectMaxItems {
			return store.Snapshot{}, fmt.Errorf("dynamostore: Inspect: table %s holds over %d items; inspect a development table", s.table, inspectMaxItems)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	slices.SortFunc(snap.Connections, func(a, b store.ConnectionView) int { return strings.Compare(a.ID, b.ID) })
	for name, members := range groups {
		members = slices.DeleteFunc(members, func(id string) bool { return !liveConn[id] })
		if len(members) == 0 {
			continue
		}
		slices.Sort(members)
		snap.Groups = append(snap.Groups, store.GroupView{Name: name, Members: members})
	}
	slices.SortFunc(snap.Groups, func(a, b store.GroupView) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(snap.Barriers, func(a, b store.Barrier) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(snap.Sessions, func(a, b store.SessionView) int { return strings.Compare(a.ID, b.ID) })
	for g, members := range presence {
		slices.SortFunc(members, func(a, b store.Presence) int { return strings.Compare(a.Session, b.Session) })
		snap.Presence = append(snap.Presence, store.GroupPresence{Group: g, Members: members})
	}
	slices.SortFunc(snap.Presence, func(a, b store.GroupPresence) int { return strings.Compare(a.Group, b.Group) })
	for name, acc := range streams {
		snap.Streams = append(snap.Streams, store.StreamView{Name: name, Tail: acc.tail, Messages: acc.n})
	}
	slices.SortFunc(snap.Streams, func(a, b store.StreamView) int { return strings.Compare(a.Name, b.Name) })
	return snap, nil
}
