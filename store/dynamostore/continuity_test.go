package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
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

// TestAppendAppliedDespiteError: a stream message whose PutItem was
// applied but answered with an error is never added twice, whether the
// SDK retries the PutItem or the caller retries the Append with the same
// AppendID (as the framework does); a caller that retries without one
// gets the message twice, which is why the framework passes one.
func TestAppendAppliedDespiteError(t *testing.T) {
	srv := dynalitetest.Start(t)
	ctx := context.Background()
	opts := store.StreamOptions{Window: 10, TTL: time.Hour}
	setup := func(t *testing.T) (*dynalitetest.LostAnswers, *dynamostore.Store) {
		faults := &dynalitetest.LostAnswers{Match: func(target string, _ []byte) bool { return target == "DynamoDB_20120810.PutItem" }}
		client := srv.NewClient(t, func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Transport: faults} })
		return faults, dynamostore.New(client, srv.NewTable(t), &dynamostore.Options{MaxAttempts: 3, BaseBackoff: time.Millisecond})
	}
	stream := func(t *testing.T, s *dynamostore.Store) []string {
		t.Helper()
		r, err := s.ReadStream(ctx, "g", store.Position{}, opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range r.Messages {
			out = append(out, fmt.Sprintf("%d:%s", m.Offset, m.Data))
		}
		return out
	}

	t.Run("the SDK retries", func(t *testing.T) {
		faults, s := setup(t)
		faults.Lose(1)
		m, err := s.Append(ctx, "g", []byte("x"), opts)
		if err != nil || m.Offset != 1 {
			t.Fatalf("Append = %+v, %v; want offset 1", m, err)
		}
		if got := stream(t, s); !slices.Equal(got, []string{"1:x"}) || faults.Matched() != 2 {
			t.Fatalf("stream %v after %d PutItems; want [1:x] after 2", got, faults.Matched())
		}
	})
	t.Run("the caller retries with the AppendID", func(t *testing.T) {
		faults, s := setup(t)
		faults.Lose(3) // every attempt of the first Append
		withID := opts
		withID.AppendID = "one-message"
		if _, err := s.Append(ctx, "g", []byte("x"), withID); !errors.Is(err, store.ErrThrottled) {
			t.Fatalf("Append with every answer lost = %v; want ErrThrottled (a 5xx)", err)
		}
		m, err := s.Append(ctx, "g", []byte("x"), withID)
		if err != nil || m.Offset != 1 || string(m.Data) != "x" {
			t.Fatalf("the retried Append = %+v, %v; want offset 1", m, err)
		}
		if got := stream(t, s); !slices.Equal(got, []string{"1:x"}) {
			t.Fatalf("stream %v; want [1:x]", got)
		}
	})
	t.Run("the caller retries without an AppendID", func(t *testing.T) {
		faults, s := setup(t)
		faults.Lose(3)
		if _, err := s.Append(ctx, "g", []byte("x"), opts); err == nil {
			t.Fatal("Append with every answer lost succeeded")
		}
		if _, err := s.Append(ctx, "g", []byte("x"), opts); err != nil {
			t.Fatal(err)
		}
		if got := stream(t, s); !slices.Equal(got, []string{"1:x", "2:x"}) {
			t.Fatalf("stream %v; want [1:x 2:x]: without an AppendID a retried Append cannot be recognised", got)
		}
	})
}
