package mullettest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/dynamostore"
)

// countingTransport counts the requests that reach the DynamoDB API.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// TestBarrierRefusalCost: an arrival at a released pair is refused at once,
// without polling: counted at the DynamoDB API against dynalite. DynamoDB
// returns the refused item with the failed condition (one request);
// dynalite ignores ReturnValuesOnConditionCheckFailure, so there the store
// reads it back: at most two requests per refused arrival.
func TestBarrierRefusalCost(t *testing.T) {
	db := dynalitetest.Start(t)
	ct := &countingTransport{base: http.DefaultTransport}
	client := db.NewClient(t, func(o *dynamodb.Options) { o.HTTPClient = &http.Client{Transport: ct} })
	st := dynamostore.New(client, db.NewTable(t), nil)

	app := framework.New[struct{}]("cost", nil)
	b := framework.NewBarrier(app, "pair", framework.BarrierOptions{Size: 2},
		func(to framework.Participant[string], _ []framework.Participant[string]) any { return to.Payload })
	framework.Handle(app, "arrive", func(ctx context.Context, c *framework.Conn[struct{}], m struct {
		Key string `json:"key"`
	}) error {
		return b.Arrive(ctx, c.Invocation, m.Key, c.ConnectionID())
	})
	inv := app.Bind(&framework.Runtime{Store: st})
	ctx := context.Background()

	// A released pair, as the store holds it after a release.
	expires := time.Now().Add(10 * time.Minute)
	for _, id := range []string{"left", "right"} {
		if _, err := st.Arrive(ctx, "pair/k", 2, store.Arrival{ConnectionID: id, Payload: []byte(`"` + id + `"`), At: time.Now()}, expires); err != nil {
			t.Fatal(err)
		}
	}
	arrive := func(id string) (events.APIGatewayProxyResponse, error) {
		ev := &events.APIGatewayWebsocketProxyRequest{Body: `{"action":"arrive","key":"k"}`}
		ev.RequestContext.EventType = "MESSAGE"
		ev.RequestContext.RouteKey = "arrive"
		ev.RequestContext.ConnectionID = id
		ev.RequestContext.RequestID = "req-" + id
		return inv.Invoke(ctx, ev)
	}
	refused := func(t *testing.T, resp events.APIGatewayProxyResponse, err error) {
		t.Helper()
		var frame struct{ Message string }
		if err != nil || resp.StatusCode != http.StatusConflict {
			t.Fatalf("arrival at a released pair: %d %s %v; want 409", resp.StatusCode, resp.Body, err)
		}
		if json.Unmarshal([]byte(resp.Body), &frame) != nil || frame.Message == "" {
			t.Fatalf("refusal %q is not an error frame", resp.Body)
		}
	}

	ct.n.Store(0)
	start := time.Now()
	resp, err := arrive("third")
	took, cost := time.Since(start), ct.n.Load()
	refused(t, resp, err)
	t.Logf("a third arrival at a released pair: %d DynamoDB requests, answered in %v", cost, took)
	if cost > 2 || took > 50*time.Millisecond {
		t.Errorf("a third arrival cost %d requests and %v; want at most 2 on dynalite (1 on DynamoDB) and 50 ms", cost, took)
	}

	ct.n.Store(0)
	start = time.Now()
	var wg sync.WaitGroup
	var slowest atomic.Int64
	for i := range 50 {
		wg.Go(func() {
			t0 := time.Now()
			resp, err := arrive("extra" + strconv.Itoa(i))
			slowest.Store(max(slowest.Load(), int64(time.Since(t0))))
			if err != nil || resp.StatusCode != http.StatusConflict {
				t.Errorf("extra arrival %d: %d %v", i, resp.StatusCode, err)
			}
		})
	}
	wg.Wait()
	cost = ct.n.Load()
	t.Logf("50 parallel extra arrivals: %d DynamoDB requests in all, slowest answered in %v, all in %v", cost, time.Duration(slowest.Load()), time.Since(start))
	if cost > 100 {
		t.Errorf("50 extra arrivals cost %d requests; want at most 100 on dynalite (50 on DynamoDB)", cost)
	}
}
