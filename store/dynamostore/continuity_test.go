package dynamostore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/dynamostore"
)

// itemsRead adds to *n the items each Query returns.
func itemsRead(n *int64) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("itemsRead", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if q, ok := out.Result.(*dynamodb.QueryOutput); ok {
					*n += int64(q.Count)
				}
				return out, md, err
			}), middleware.After)
		})
	}
}

// TestCatchUpReadsEachMessageOnce: a reader far behind that catches up in
// pages (StreamOptions.Limit, as the framework's sync does with
// framework.ReplayPage) reads each message it missed once, and a request
// per page; without a limit, each page's read returns everything after its
// position, so the items read grow with the square of how far behind the
// reader is. Run with -v for the figures.
func TestCatchUpReadsEachMessageOnce(t *testing.T) {
	const (
		behind = 2000
		page   = 128
	)
	srv := dynalitetest.Start(t)
	var items int64
	client, rc := counted(t, srv, "", itemsRead(&items))
	s := dynamostore.New(client, srv.NewTable(t), nil)
	ctx := context.Background()
	opts := store.StreamOptions{Window: behind + 100, TTL: time.Hour}
	first, err := s.Append(ctx, "g", []byte("m0"), opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= behind; i++ {
		if _, err := s.Append(ctx, "g", fmt.Appendf(nil, "m%d", i), opts); err != nil {
			t.Fatal(err)
		}
	}
	// catchUp reads from first's position to the tail, a page at a time,
	// as sync does with and without a store-level limit.
	catchUp := func(limit int) (got, requests, read int64) {
		rc.Reset()
		items = 0
		o := opts
		o.Limit = limit
		after := first.Position
		for {
			r, err := s.ReadStream(ctx, "g", after, o)
			if err != nil || r.Discontinuity {
				t.Fatalf("ReadStream(%+v) = %+v, %v", after, r, err)
			}
			msgs := store.LimitRead(r, page).Messages // the page sync replays
			for i, m := range msgs {
				if m.Offset != after.Offset+1+int64(i) || string(m.Data) != fmt.Sprintf("m%d", m.Offset-first.Offset) {
					t.Fatalf("message %+v %q after %+v", m.Position, m.Data, after)
				}
			}
			got += int64(len(msgs))
			if len(msgs) == 0 {
				break
			}
			after = msgs[len(msgs)-1].Position
		}
		return got, rc.Total(), items
	}
	got, requests, read := catchUp(page)
	t.Logf("limit %d: %d messages caught up with %d requests, %d items read", page, got, requests, read)
	if got != behind || read > behind+int64(requests) {
		t.Errorf("with a limit: %d messages, %d items read; want %d, at most %d", got, read, behind, behind+requests)
	}
	got0, requests0, read0 := catchUp(0)
	t.Logf("no limit: %d messages caught up with %d requests, %d items read", got0, requests0, read0)
	if got0 != behind || read0 < 5*read {
		t.Errorf("without a limit: %d messages, %d items read; want %d, and several times the %d read with one", got0, read0, behind, read)
	}
}
