package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
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

// applyThenFail passes every request on to the server, and answers the
// next `left` PutItems with a 500 once the server has applied them: a write
// whose answer was lost. The SDK retries a 500.
type applyThenFail struct {
	base http.RoundTripper
	left atomic.Int32
	puts atomic.Int32
}

func (a *applyThenFail) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(r)
	if err != nil || r.Header.Get("X-Amz-Target") != "DynamoDB_20120810.PutItem" {
		return resp, err
	}
	a.puts.Add(1)
	if a.left.Add(-1) < 0 {
		return resp, nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return &http.Response{
		StatusCode: http.StatusInternalServerError,
		Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:       io.NopCloser(strings.NewReader(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected: the write was applied, its answer lost"}`)),
		Request:    r,
	}, nil
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
	setup := func(t *testing.T) (*applyThenFail, *dynamostore.Store) {
		faults := &applyThenFail{base: http.DefaultTransport}
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
		faults.left.Store(1)
		m, err := s.Append(ctx, "g", []byte("x"), opts)
		if err != nil || m.Offset != 1 {
			t.Fatalf("Append = %+v, %v; want offset 1", m, err)
		}
		if got := stream(t, s); !slices.Equal(got, []string{"1:x"}) || faults.puts.Load() != 2 {
			t.Fatalf("stream %v after %d PutItems; want [1:x] after 2", got, faults.puts.Load())
		}
	})
	t.Run("the caller retries with the AppendID", func(t *testing.T) {
		faults, s := setup(t)
		faults.left.Store(3) // every attempt of the first Append
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
		faults.left.Store(3)
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
