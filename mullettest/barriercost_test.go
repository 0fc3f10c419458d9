package mullettest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/store/dynamostore"
)

// countingTransport counts the requests that reach the DynamoDB API, by
// operation (the X-Amz-Target header).
type countingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	ops  map[string]int
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	op := r.Header.Get("X-Amz-Target")
	op = op[strings.LastIndexByte(op, '.')+1:]
	c.mu.Lock()
	c.ops[op]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

// reset zeroes the counts and returns them as they were.
func (c *countingTransport) reset() (int64, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := c.ops
	c.ops = make(map[string]int)
	return c.n.Swap(0), ops
}

// pairApp is a pairing app: two connections sending the same key are
// released with each other's connection ID.
func pairApp(restart bool) *framework.App[struct{}] {
	app := framework.New[struct{}]("cost", nil)
	b := framework.NewBarrier(app, "pair", func(to framework.Participant[string], others []framework.Participant[string]) any {
		return map[string]string{"peer": others[0].Payload}
	}, &framework.BarrierOptions{RestartAfterRelease: restart})
	framework.Handle(app, "pair", func(ctx context.Context, c *framework.Conn[struct{}], m struct {
		Key string `json:"key"`
	}) error {
		_, err := b.Arrive(ctx, c, m.Key, c.ConnectionID())
		return err
	}, nil)
	return app
}

// TestBarrierArrivalCost: an arrival at a released pair never waits and
// never polls. Counted at the DynamoDB API against dynalite, with clients
// that wait for their answer:
//
//   - by default it is refused (a 409 error frame) with the one conditional
//     write that found the pair full, which returns the refused item with
//     the failed condition (ReturnValuesOnConditionCheckFailure): one
//     request. (The dynalite mullet starts answers that parameter as
//     DynamoDB does; see local/dynalite.)
//   - with RestartAfterRelease it starts a new generation and waits in it:
//     the refused write and one conditional PutItem, two requests.
func TestBarrierArrivalCost(t *testing.T) {
	db := dynalitetest.Start(t)
	for _, tc := range []struct {
		name    string
		restart bool
		// perArrival is the most DynamoDB requests one extra arrival may
		// cost; want is its answer's prefix.
		perArrival int64
		want       string
	}{
		{"refused", false, 1, `{"message": "pair \"k\" already has its 2 participants"`},
		{"restart", true, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := &countingTransport{base: http.DefaultTransport, ops: map[string]int{}}
			client := db.NewClient(t, func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Transport: ct} })
			st := dynamostore.New(client, db.NewTable(t), nil)
			srv := mullettest.NewServer(t, pairApp(tc.restart), &mullettest.Options{Store: st})

			pair := func(t *testing.T, key string) {
				a, b := srv.Dial(t, nil), srv.Dial(t, nil)
				a.Send(t, `{"action":"pair","key":"`+key+`"}`)
				time.Sleep(20 * time.Millisecond)
				b.Send(t, `{"action":"pair","key":"`+key+`"}`)
				for _, c := range []*mullettest.Client{a, b} {
					if f := c.Read(t); !strings.HasPrefix(f, `{"peer":`) {
						t.Fatalf("pairing got %s", f)
					}
				}
			}
			pair(t, "k")
			third := srv.Dial(t, nil)
			ct.reset()
			start := time.Now()
			third.Send(t, `{"action":"pair","key":"k"}`)
			var took time.Duration
			if tc.restart {
				// The new generation answers nothing: the newcomer waits
				// in it. Its cost is counted once the invocation is done.
				time.Sleep(200 * time.Millisecond)
			} else {
				f, err := third.ReadTimeout(5 * time.Second)
				took = time.Since(start)
				if err != nil || !strings.HasPrefix(f, tc.want) {
					t.Fatalf("a third arrival at a released pair got %q, %v; want %q", f, err, tc.want)
				}
			}
			n, ops := ct.reset()
			t.Logf("a third arrival at a released pair: %d DynamoDB requests %v, answered in %v", n, ops, took.Round(time.Microsecond))
			if n > tc.perArrival {
				t.Errorf("a third arrival cost %d requests; want at most %d", n, tc.perArrival)
			}
			if tc.restart {
				// It waits in the new generation, and a fourth pairs with it.
				fourth := srv.Dial(t, nil)
				fourth.Send(t, `{"action":"pair","key":"k"}`)
				for _, c := range []*mullettest.Client{third, fourth} {
					if f := c.Read(t); !strings.HasPrefix(f, `{"peer":`) {
						t.Fatalf("the new generation's pairing got %s", f)
					}
				}
			}

			pair(t, "k2")
			const extra = 50
			clients := make([]*mullettest.Client, extra)
			for i := range clients {
				clients[i] = srv.Dial(t, nil)
			}
			ct.reset()
			var slowest atomic.Int64
			var paired, refused, waiting atomic.Int64
			var wg sync.WaitGroup
			for _, c := range clients {
				wg.Go(func() {
					t0 := time.Now()
					c.Send(t, `{"action":"pair","key":"k2"}`)
					f, err := c.ReadTimeout(5 * time.Second)
					var te *mullettest.TimeoutError
					switch {
					case tc.restart && errors.As(err, &te):
						waiting.Add(1)
						return
					case err != nil:
						t.Errorf("an extra arrival got %v", err)
					case strings.HasPrefix(f, `{"peer":`) && tc.restart:
						paired.Add(1)
					case strings.HasPrefix(f, strings.Replace(tc.want, `\"k\"`, `\"k2\"`, 1)) && !tc.restart,
						strings.Contains(f, `already has its 2 participants`) && tc.restart:
						refused.Add(1)
					default:
						t.Errorf("an extra arrival got %s", f)
					}
					slowest.Store(max(slowest.Load(), int64(time.Since(t0))))
				})
			}
			wg.Wait()
			n, ops = ct.reset()
			t.Logf("%d parallel extra arrivals at a released pair: %d DynamoDB requests in all %v (including the $disconnect of any that waited); %d paired, %d refused, %d waiting; slowest answer %v",
				extra, n, ops, paired.Load(), refused.Load(), waiting.Load(), time.Duration(slowest.Load()).Round(time.Microsecond))
			if !tc.restart {
				if n > tc.perArrival*extra {
					t.Errorf("%d extra arrivals cost %d requests; want at most %d", extra, n, tc.perArrival*extra)
				}
				return
			}
			// Newcomers restart the pair and pair with each other; under
			// this contention some find every generation full within their
			// bounded rounds and are refused. At most one is left waiting
			// for a partner, and no one is paired twice or with a stranger.
			if waiting.Load() > 1 || paired.Load()%2 != 0 || paired.Load() == 0 {
				t.Errorf("%d paired, %d refused, %d waiting: want an even, non-zero number paired and at most one waiting", paired.Load(), refused.Load(), waiting.Load())
			}
		})
	}
}
