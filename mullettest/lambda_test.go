package mullettest_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/bootstrap"
	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/local/lambdaruntime"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
)

// newLambdaServer serves testdata/lambdaapp as Lambda instances against a
// fresh dynalite table.
func newLambdaServer(t testing.TB, pool *lambdaruntime.Options) *mullettest.Server {
	t.Helper()
	db := dynalitetest.Start(t)
	return mullettest.NewServer(t, nil, &mullettest.Options{Lambda: &mullettest.Lambda{
		MainDir: "testdata/lambdaapp", Table: db.NewTable(t), DynamoDBEndpoint: db.Endpoint, Pool: pool,
	}})
}

// TestLambdaFailures: what a client sees when the function panics or
// outlives its timeout, and that the instance is replaced for the next
// frame.
func TestLambdaFailures(t *testing.T) {
	srv := newLambdaServer(t, &lambdaruntime.Options{Timeout: time.Second})
	c := srv.Dial(t, nil)
	c.Send(t, `{"action":"pid"}`)
	pid := c.Read(t)

	c.Send(t, `{"action":"panic"}`)
	if f := c.Read(t); !strings.HasPrefix(f, `{"message": "Internal server error", "connectionId":"`) {
		t.Fatalf("after a panic the client got %s", f)
	}
	c.Send(t, `{"action":"pid"}`)
	next := c.Read(t)
	if next == pid {
		t.Errorf("the instance that panicked served again")
	}

	start := time.Now()
	c.Send(t, `{"action":"sleep","ms":5000}`)
	if f := c.Read(t); !strings.HasPrefix(f, `{"message": "Internal server error", "connectionId":"`) {
		t.Fatalf("after a timeout the client got %s", f)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the 1s function timeout took %v to surface", d)
	}
	c.Send(t, `{"action":"pid"}`)
	if f := c.Read(t); f == next {
		t.Errorf("the instance that timed out served again")
	}
	// The connection's state survived both failures: it lives in the table.
	for _, want := range []string{"1", "2"} {
		c.Send(t, `{"action":"count"}`)
		if f := c.Read(t); f != want {
			t.Errorf("count = %s, want %s", f, want)
		}
	}
	if st := srv.Pool.Stats(); st.Started < 3 || st.Errors != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestLambdaScalesOut: concurrent frames start instances, which are then
// reused, and state written by one instance is seen by the others.
func TestLambdaScalesOut(t *testing.T) {
	const n = 4
	srv := newLambdaServer(t, &lambdaruntime.Options{MaxInstances: n})
	clients := make([]*mullettest.Client, n)
	for i := range clients {
		clients[i] = srv.Dial(t, nil)
	}
	round := func() map[string]bool {
		pids := map[string]bool{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() {
				c.Send(t, `{"action":"sleep","ms":300}`)
				f, err := c.ReadTimeout(10 * time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				pids[f] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		return pids
	}
	first := round()
	if len(first) < 2 {
		t.Fatalf("%d concurrent frames ran in %d instance(s)", n, len(first))
	}
	before := srv.Pool.Stats()
	second := round()
	after := srv.Pool.Stats()
	if after.Warm.Count <= before.Warm.Count {
		t.Errorf("no warm instance was reused: before %+v, after %+v", before, after)
	}
	if after.Started > n {
		t.Errorf("%d instances started, more than MaxInstances %d", after.Started, n)
	}
	t.Logf("%d and %d instances served the two rounds; stats %+v", len(first), len(second), after)

	// One connection's counter, advanced through whichever instances.
	c := clients[0]
	for i := 1; i <= 6; i++ {
		c.Send(t, `{"action":"count"}`)
		if f := c.Read(t); f != string(rune('0'+i)) {
			t.Fatalf("count = %s, want %d", f, i)
		}
	}
}

// TestLambdaNeedsTable: a Lambda instance run locally without MULLET_TABLE
// fails to initialize, and says what to pass.
func TestLambdaNeedsTable(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := bootstrap.Build(ctx, "testdata/lambdaapp", bin, nil); err != nil {
		t.Fatal(err)
	}
	p, err := lambdaruntime.NewPool(&lambdaruntime.Options{Bootstrap: bin, Env: []string{runtimeenv.LocalLambda + "=1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Invoke(ctx, &events.APIGatewayWebsocketProxyRequest{})
	var fe *lambdaruntime.FunctionError
	if !errors.As(err, &fe) || fe.Type != "Mullet.InitError" || !fe.Init || !strings.Contains(fe.Message, "-store dynamodb") {
		t.Fatalf("err %v", err)
	}
}

// BenchmarkLambdaRoundTrip measures a two-way frame from a websocket client
// through the emulator to a warm Lambda instance of testdata/lambdaapp and
// back: "pid" touches no store, "count" updates the connection's state in
// dynalite. It reports the pool's warm p50 and p99 (the invocation only).
func BenchmarkLambdaRoundTrip(b *testing.B) {
	for _, route := range []string{"pid", "count"} {
		b.Run(route, func(b *testing.B) {
			srv := newLambdaServer(b, &lambdaruntime.Options{MaxInstances: 1})
			c := srv.Dial(b, nil)
			frame := `{"action":"` + route + `"}`
			c.Send(b, frame)
			c.Read(b) // the cold start
			for b.Loop() {
				c.Send(b, frame)
				c.Read(b)
			}
			st := srv.Pool.Stats()
			b.ReportMetric(float64(st.Warm.P50.Microseconds()), "warm-p50-µs")
			b.ReportMetric(float64(st.Warm.P99.Microseconds()), "warm-p99-µs")
		})
	}
}

// BenchmarkLambdaColdStart measures the first invocation of a new instance
// of testdata/lambdaapp, a mullet app: process start, mullet.Main's AWS
// configuration and clients, the first poll, and a "pid" frame.
func BenchmarkLambdaColdStart(b *testing.B) {
	db := dynalitetest.Start(b)
	table := db.NewTable(b)
	bin := filepath.Join(b.TempDir(), "bootstrap")
	ctx := context.Background()
	if err := bootstrap.Build(ctx, "testdata/lambdaapp", bin, nil); err != nil {
		b.Fatal(err)
	}
	ev := &events.APIGatewayWebsocketProxyRequest{Body: `{"action":"pid"}`}
	ev.RequestContext.EventType, ev.RequestContext.RouteKey, ev.RequestContext.ConnectionID = "MESSAGE", "pid", "Zw6VnDsn7eG6En0="
	var cold []time.Duration
	for b.Loop() {
		p, err := lambdaruntime.NewPool(&lambdaruntime.Options{Bootstrap: bin, Env: []string{
			runtimeenv.LocalLambda + "=1", runtimeenv.Table + "=" + table, runtimeenv.DynamoDBEndpoint + "=" + db.Endpoint,
			runtimeenv.CallbackURL + "=http://127.0.0.1:1/local",
		}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Invoke(ctx, ev); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cold = append(cold, p.Stats().Cold.P50)
		p.Close()
		b.StartTimer()
	}
	slices.Sort(cold)
	b.ReportMetric(float64(cold[len(cold)/2].Microseconds()), "cold-p50-µs")
}
