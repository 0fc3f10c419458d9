package dynamostore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/dynamostore"
)

// counted returns a client of srv (through endpoint, if not empty) that
// counts its requests, and that counter.
func counted(t testing.TB, srv *dynalitetest.Server, endpoint string, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, *dynamostore.RequestCounter) {
	t.Helper()
	rc := &dynamostore.RequestCounter{}
	client := srv.NewClient(t, append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.APIOptions = append(o.APIOptions, rc.Middleware())
	}}, optFns...)...)
	return client, rc
}

// withoutRefusedItem makes a client see what a server that ignores
// ReturnValuesOnConditionCheckFailure answers (dynalite 4.0.0 on its own,
// DynamoDB Local before 2.2.0): a ConditionalCheckFailedException without
// the item.
func withoutRefusedItem(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("dropRefusedItem", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if ccf, ok := errors.AsType[*types.ConditionalCheckFailedException](err); ok {
				ccf.Item = nil
			}
			return out, md, err
		}), middleware.Before)
	})
}

func putConn(t testing.TB, s store.Store, id string) {
	t.Helper()
	err := s.PutConnection(context.Background(), store.Connection{
		ID: id, ConnectedAt: time.Now(), SourceIP: "192.0.2.1", UserAgent: "test",
		Expires: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("PutConnection(%s): %v", id, err)
	}
}

func arrival(id string) store.Arrival {
	return store.Arrival{ConnectionID: id, Payload: []byte(`{"ip":"192.0.2.1"}`), At: time.Now()}
}

// TestRequestCounts pins what each store call costs in DynamoDB requests.
// The headline: the two arrivals that complete a pair are exactly two
// UpdateItem requests and no read.
func TestRequestCounts(t *testing.T) {
	srv := dynalitetest.Start(t)
	client, rc := counted(t, srv, "")
	// A refusal costs a read more where the server does not return the
	// refused item.
	clientNoItem, rcNoItem := counted(t, srv, "", withoutRefusedItem)
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	duplicate := func(s *dynamostore.Store) error {
		b, err := s.Arrive(ctx, "dup", 2, arrival("left"), exp)
		if err != nil || !b.Duplicate {
			return fmt.Errorf("duplicate = %+v, %v", b, err)
		}
		return nil
	}
	full := func(s *dynamostore.Store) error {
		b, err := s.Arrive(ctx, "full", 2, arrival("third"), exp)
		if !errors.Is(err, store.ErrBarrierFull) || len(b.Arrivals) != 2 {
			return fmt.Errorf("third arrival = %+v, %v; want ErrBarrierFull and the two arrivals", b, err)
		}
		return nil
	}
	completePair := func(s *dynamostore.Store) {
		must(t, arriveErr(s.Arrive(ctx, "full", 2, arrival("left"), exp)))
		must(t, arriveErr(s.Arrive(ctx, "full", 2, arrival("right"), exp)))
	}

	tests := []struct {
		name  string
		setup func(s *dynamostore.Store)
		call  func(s *dynamostore.Store) error
		want  map[string]int64
		// noItem uses a client that sees no item with a refusal.
		noItem bool
	}{
		{
			name: "completed pair",
			call: func(s *dynamostore.Store) error {
				b, err := s.Arrive(ctx, "pair", 2, arrival("left"), exp)
				if err != nil || b.Complete() {
					return fmt.Errorf("first arrival = %+v, %v", b, err)
				}
				b, err = s.Arrive(ctx, "pair", 2, arrival("right"), exp)
				if err != nil || !b.Complete() || len(b.Arrivals) != 2 {
					return fmt.Errorf("second arrival = %+v, %v", b, err)
				}
				return nil
			},
			want: map[string]int64{"UpdateItem": 2},
		},
		{
			name:  "duplicate arrival",
			setup: func(s *dynamostore.Store) { must(t, arriveErr(s.Arrive(ctx, "dup", 2, arrival("left"), exp))) },
			call:  duplicate,
			want:  map[string]int64{"UpdateItem": 1},
		},
		{
			name:   "duplicate arrival, no item with the refusal",
			setup:  func(s *dynamostore.Store) { must(t, arriveErr(s.Arrive(ctx, "dup", 2, arrival("left"), exp))) },
			call:   duplicate,
			want:   map[string]int64{"UpdateItem": 1, "GetItem": 1},
			noItem: true,
		},
		{
			name:  "arrival at a released pair",
			setup: completePair,
			call:  full,
			want:  map[string]int64{"UpdateItem": 1},
		},
		{
			name:   "arrival at a released pair, no item with the refusal",
			setup:  completePair,
			call:   full,
			want:   map[string]int64{"UpdateItem": 1, "GetItem": 1},
			noItem: true,
		},
		{
			name: "evict",
			setup: func(s *dynamostore.Store) {
				must(t, arriveErr(s.Arrive(ctx, "ev", 2, arrival("left"), exp)))
			},
			call: func(s *dynamostore.Store) error {
				_, err := s.Evict(ctx, "ev", "left")
				return err
			},
			want: map[string]int64{"GetItem": 1, "UpdateItem": 1},
		},
		{
			name:  "save state",
			setup: func(s *dynamostore.Store) { putConn(t, s, "c1") },
			call: func(s *dynamostore.Store) error {
				_, err := s.SaveState(ctx, "c1", []byte(`{"n":1}`), 0)
				return err
			},
			want: map[string]int64{"UpdateItem": 1},
		},
		{
			name:  "load state",
			setup: func(s *dynamostore.Store) { putConn(t, s, "c1") },
			call: func(s *dynamostore.Store) error {
				_, err := s.LoadState(ctx, "c1")
				return err
			},
			want: map[string]int64{"GetItem": 1},
		},
		{
			name:  "join group",
			setup: func(s *dynamostore.Store) { putConn(t, s, "c1") },
			call:  func(s *dynamostore.Store) error { return s.JoinGroup(ctx, "room", "c1") },
			want:  map[string]int64{"UpdateItem": 1, "PutItem": 1},
		},
		{
			name: "delete connection in two groups",
			setup: func(s *dynamostore.Store) {
				putConn(t, s, "c1")
				must(t, s.JoinGroup(ctx, "a", "c1"))
				must(t, s.JoinGroup(ctx, "b", "c1"))
			},
			call: func(s *dynamostore.Store) error { return s.DeleteConnection(ctx, "c1") },
			want: map[string]int64{"GetItem": 1, "BatchWriteItem": 1, "DeleteItem": 1},
		},
		{
			name:  "put connection",
			call:  func(s *dynamostore.Store) error { putConn(t, s, "c1"); return nil },
			want:  map[string]int64{"PutItem": 1},
			setup: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, rc := client, rc
			if tt.noItem {
				client, rc = clientNoItem, rcNoItem
			}
			s := dynamostore.New(client, srv.NewTable(t), nil)
			if tt.setup != nil {
				tt.setup(s)
			}
			rc.Reset()
			if err := tt.call(s); err != nil {
				t.Fatal(err)
			}
			if got := rc.Snapshot(); !maps.Equal(got, tt.want) {
				t.Errorf("requests = %v, want %v", got, tt.want)
			}
			if got := rc.Attempts(); !maps.Equal(got, tt.want) {
				t.Errorf("attempts = %v, want %v (no retries)", got, tt.want)
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func arriveErr(_ store.Barrier, err error) error { return err }

func TestStateTooLarge(t *testing.T) {
	srv := dynalitetest.Start(t)
	client, rc := counted(t, srv, "")
	s := dynamostore.New(client, srv.NewTable(t), nil)
	ctx := context.Background()

	t.Run("over the limit is refused without a request", func(t *testing.T) {
		putConn(t, s, "c1")
		rc.Reset()
		_, err := s.SaveState(ctx, "c1", bytes.Repeat([]byte("x"), store.MaxItemSize+1), 0)
		if !errors.Is(err, store.ErrTooLarge) {
			t.Fatalf("SaveState(401 KB) = %v, want ErrTooLarge", err)
		}
		if n := rc.Total(); n != 0 {
			t.Fatalf("%d requests sent, want 0", n)
		}
		if v, err := s.SaveState(ctx, "c1", []byte("ok"), 0); err != nil || v != 1 {
			t.Fatalf("SaveState after ErrTooLarge = %d, %v", v, err)
		}
	})

	// The record's other attributes count too: state that passes the
	// store's estimate but not DynamoDB's check maps the server's
	// ValidationException to ErrTooLarge.
	t.Run("refused by the server", func(t *testing.T) {
		err := s.PutConnection(ctx, store.Connection{
			ID: "c2", ConnectedAt: time.Now(), UserAgent: strings.Repeat("u", 16<<10),
			Expires: time.Now().Add(time.Hour),
		})
		must(t, err)
		if _, err := s.SaveState(ctx, "c2", []byte("small"), 0); err != nil {
			t.Fatal(err)
		}
		rc.Reset()
		big := bytes.Repeat([]byte("x"), store.MaxItemSize-200)
		_, err = s.SaveState(ctx, "c2", big, 1)
		if !errors.Is(err, store.ErrTooLarge) {
			t.Fatalf("SaveState(just under 400 KB, 16 KB user agent) = %v, want ErrTooLarge", err)
		}
		if got := rc.Snapshot()["UpdateItem"]; got != 1 {
			t.Fatalf("UpdateItem requests = %d, want 1", got)
		}
		t.Logf("server said: %v", err)
		st, err := s.LoadState(ctx, "c2")
		if err != nil || string(st.Data) != "small" || st.Version != 1 {
			t.Fatalf("state after refusal = %q v%d, %v; want unchanged", st.Data, st.Version, err)
		}
		if v, err := s.SaveState(ctx, "c2", []byte("next"), 1); err != nil || v != 2 {
			t.Fatalf("SaveState after ErrTooLarge = %d, %v", v, err)
		}
	})

	t.Run("barrier payload", func(t *testing.T) {
		exp := time.Now().Add(time.Minute)
		big := store.Arrival{ConnectionID: "big", Payload: bytes.Repeat([]byte("p"), store.MaxItemSize), At: time.Now()}
		if _, err := s.Arrive(ctx, "k", 2, big, exp); !errors.Is(err, store.ErrTooLarge) {
			t.Fatalf("Arrive(400 KB payload) = %v, want ErrTooLarge", err)
		}
		if _, err := s.Arrive(ctx, "k", 2, arrival("a"), exp); err != nil {
			t.Fatal(err)
		}
		b, err := s.Arrive(ctx, "k", 2, arrival("b"), exp)
		if err != nil || !b.Complete() {
			t.Fatalf("barrier after a refused arrival = %+v, %v", b, err)
		}
	})
}

// faultProxy sits between the client and dynalite and answers requests
// itself when fault says so.
type faultProxy struct {
	URL      string
	requests atomic.Int64
}

// newFaultProxy starts a proxy to srv. fault gets the 1-based number of the
// request and returns the status and __type to answer with, or 0 to pass
// the request on.
func newFaultProxy(t testing.TB, srv *dynalitetest.Server, fault func(n int64) (status int, errType string)) *faultProxy {
	t.Helper()
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := p.requests.Add(1)
		status, errType := fault(n)
		if status == 0 {
			rp.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		if errType != "" {
			fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected by the test"}`, errType)
		}
	}))
	t.Cleanup(hs.Close)
	p.URL = hs.URL
	return p
}

func TestThrottlingRetried(t *testing.T) {
	srv := dynalitetest.Start(t)
	table := srv.NewTable(t)
	for _, tc := range []struct {
		status  int
		errType string
	}{
		{400, "ProvisionedThroughputExceededException"},
		{400, "ThrottlingException"},
		{400, "RequestLimitExceeded"},
		{500, "InternalServerError"},
		{503, ""},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.errType), func(t *testing.T) {
			const throttled = 3
			proxy := newFaultProxy(t, srv, func(n int64) (int, string) {
				if n <= throttled {
					return tc.status, tc.errType
				}
				return 0, ""
			})
			client, rc := counted(t, srv, proxy.URL)
			s := dynamostore.New(client, table, &dynamostore.Options{BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
			id := fmt.Sprintf("c%d%s", tc.status, tc.errType)
			putConn(t, s, id)
			if got, want := rc.Snapshot(), map[string]int64{"PutItem": 1}; !maps.Equal(got, want) {
				t.Errorf("operations = %v, want %v", got, want)
			}
			if got, want := rc.Attempts(), map[string]int64{"PutItem": throttled + 1}; !maps.Equal(got, want) {
				t.Errorf("attempts = %v, want %v", got, want)
			}
			if _, err := s.GetConnection(context.Background(), id); err != nil {
				t.Fatalf("GetConnection after a throttled put: %v", err)
			}
		})
	}
}

// TestThrottlingPersistent: a server that never stops throttling gives
// ErrThrottled after MaxAttempts, within bounded time, and a burst of
// throttled calls each gets all its attempts (no retry token bucket).
func TestThrottlingPersistent(t *testing.T) {
	srv := dynalitetest.Start(t)
	table := srv.NewTable(t)
	proxy := newFaultProxy(t, srv, func(int64) (int, string) {
		return 400, "ProvisionedThroughputExceededException"
	})
	ctx := context.Background()

	t.Run("defaults", func(t *testing.T) {
		client, rc := counted(t, srv, proxy.URL)
		s := dynamostore.New(client, table, nil)
		start := time.Now()
		_, err := s.SaveState(ctx, "c1", []byte("x"), 0)
		elapsed := time.Since(start)
		if !errors.Is(err, store.ErrThrottled) {
			t.Fatalf("SaveState = %v, want ErrThrottled", err)
		}
		if got := rc.Attempts()["UpdateItem"]; got != dynamostore.DefaultMaxAttempts {
			t.Fatalf("attempts = %d, want %d", got, dynamostore.DefaultMaxAttempts)
		}
		// Full jitter under 25 ms doubling to a 1 s cap: at most 2.575 s
		// of backoff across 8 attempts.
		if elapsed > 10*time.Second {
			t.Fatalf("gave up after %v, want within a few seconds", elapsed)
		}
		t.Logf("ErrThrottled after %v: %v", elapsed.Round(time.Millisecond), err)
	})

	t.Run("burst", func(t *testing.T) {
		client, rc := counted(t, srv, proxy.URL)
		const calls, attempts = 40, 6
		s := dynamostore.New(client, table, &dynamostore.Options{
			MaxAttempts: attempts, BaseBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		})
		var wg sync.WaitGroup
		errs := make([]error, calls)
		for i := range calls {
			wg.Go(func() { _, errs[i] = s.LoadState(ctx, fmt.Sprintf("c%d", i)) })
		}
		wg.Wait()
		for i, err := range errs {
			if !errors.Is(err, store.ErrThrottled) {
				t.Fatalf("call %d = %v, want ErrThrottled", i, err)
			}
		}
		// 40 calls x 5 retries = 200 retries: the SDK's default token
		// bucket (500 tokens, 5 per retry) would have refused half of them.
		if got := rc.Attempts()["GetItem"]; got != calls*attempts {
			t.Fatalf("attempts = %d, want %d: some calls were cut short", got, calls*attempts)
		}
	})
}

func TestContextDeadline(t *testing.T) {
	srv := dynalitetest.Start(t)
	table := srv.NewTable(t)

	t.Run("server never answers", func(t *testing.T) {
		release := make(chan struct{})
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(hang.Close)
		t.Cleanup(func() { close(release) })
		client, _ := counted(t, srv, hang.URL)
		s := dynamostore.New(client, table, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := s.LoadState(ctx, "c1")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("LoadState = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("returned after %v, want soon after the 200 ms deadline", d)
		}
	})

	t.Run("deadline during backoff", func(t *testing.T) {
		proxy := newFaultProxy(t, srv, func(int64) (int, string) { return 400, "ThrottlingException" })
		client, rc := counted(t, srv, proxy.URL)
		s := dynamostore.New(client, table, &dynamostore.Options{BaseBackoff: 30 * time.Second, MaxBackoff: 30 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := s.Arrive(ctx, "k", 2, arrival("a"), time.Now().Add(time.Minute))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Arrive = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("returned after %v, want soon after the 300 ms deadline", d)
		}
		if got := rc.Attempts()["UpdateItem"]; got > 2 {
			t.Fatalf("%d attempts, want at most 2", got)
		}
	})

	t.Run("canceled before the call", func(t *testing.T) {
		client, rc := counted(t, srv, "")
		s := dynamostore.New(client, table, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Arrive(ctx, "k", 2, arrival("a"), time.Now().Add(time.Minute)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Arrive = %v, want Canceled", err)
		}
		if n := rc.Total(); n != 0 {
			t.Fatalf("%d requests sent, want 0", n)
		}
	})
}

func TestCheckTable(t *testing.T) {
	srv := dynalitetest.Start(t)
	client := srv.NewClient(t)
	ctx := context.Background()

	t.Run("exists", func(t *testing.T) {
		if err := dynamostore.New(client, srv.NewTable(t), nil).CheckTable(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("missing", func(t *testing.T) {
		err := dynamostore.New(client, "no-such-table", nil).CheckTable(ctx)
		if err == nil {
			t.Fatal("CheckTable of a missing table succeeded")
		}
		for _, want := range []string{`"no-such-table"`, "does not exist", srv.Endpoint, "pk (S) / sk (S)", "ttl"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		t.Log(err)
	})

	t.Run("wrong keys", func(t *testing.T) {
		_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String("wrong-keys"),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		})
		must(t, err)
		err = dynamostore.New(client, "wrong-keys", nil).CheckTable(ctx)
		if err == nil || !strings.Contains(err.Error(), "id (S)") || !strings.Contains(err.Error(), "pk (S)") {
			t.Fatalf("CheckTable = %v, want it to name the table's keys and the needed ones", err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		endpoint := "http://" + l.Addr().String()
		l.Close() // nothing listens there now
		client := srv.NewClient(t, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
		start := time.Now()
		err = dynamostore.New(client, "t", nil).CheckTable(ctx)
		if err == nil {
			t.Fatal("CheckTable of an unreachable endpoint succeeded")
		}
		for _, want := range []string{endpoint, "cannot reach", "-dynamodb-endpoint"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	})
}

func TestCreateTableIdempotent(t *testing.T) {
	srv := dynalitetest.Start(t)
	s := dynamostore.New(srv.NewClient(t), srv.NewTable(t), nil)
	if err := s.CreateTable(context.Background()); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
}

// TestExpiredItemsIgnored: dynalite never deletes expired items, so what
// the store sees of them is its own doing.
func TestExpiredItemsIgnored(t *testing.T) {
	srv := dynalitetest.Start(t)
	client := srv.NewClient(t)
	table := srv.NewTable(t)
	now := time.Now()
	clock := func() time.Time { return now }
	s := dynamostore.New(client, table, &dynamostore.Options{Now: clock})
	ctx := context.Background()
	must(t, s.PutConnection(ctx, store.Connection{ID: "c1", ConnectedAt: now, Expires: now.Add(time.Minute)}))
	must(t, s.JoinGroup(ctx, "room", "c1"))
	_, err := s.Arrive(ctx, "k", 2, arrival("c1"), now.Add(time.Minute))
	must(t, err)

	now = now.Add(2 * time.Minute)
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "conn#c1"}, "sk": &types.AttributeValueMemberS{Value: "conn"},
	}})
	if err != nil || len(out.Item) == 0 {
		t.Fatalf("raw GetItem = %v, %v; want the expired item still there", out, err)
	}
	if _, err := s.GetConnection(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConnection(expired) = %v", err)
	}
	if m, err := s.GroupMembers(ctx, "room"); err != nil || len(m) != 0 {
		t.Fatalf("GroupMembers = %v, %v; want none", m, err)
	}
	if _, err := s.Evict(ctx, "k", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Evict(expired) = %v", err)
	}
	b, err := s.Arrive(ctx, "k", 2, arrival("c1"), now.Add(time.Minute))
	if err != nil || b.Duplicate || len(b.Arrivals) != 1 {
		t.Fatalf("Arrive at the expired barrier = %+v, %v; want a fresh barrier", b, err)
	}
}
