package lambdaruntime_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/local/lambdaruntime"
)

// BenchmarkInvokeWarm measures an invocation of a warm instance of
// testdata/function (aws-lambda-go, a JSON event in, a proxy response
// out): the Runtime API's round trips on loopback plus the function's own
// encoding. It reports the pool's p50 and p99.
func BenchmarkInvokeWarm(b *testing.B) {
	p, err := lambdaruntime.NewPool(&lambdaruntime.Options{Bootstrap: bootstrap, MaxInstances: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	ev := &events.APIGatewayWebsocketProxyRequest{Body: "hi"}
	if _, err := p.Invoke(ctx, ev); err != nil { // the cold start
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Invoke(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	st := p.Stats()
	b.ReportMetric(float64(st.Warm.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(st.Warm.P99.Microseconds()), "p99-µs")
}

// BenchmarkInvokeCold measures the first invocation of a new instance:
// starting the process, its init, its first poll and the invocation.
func BenchmarkInvokeCold(b *testing.B) {
	ctx := context.Background()
	ev := &events.APIGatewayWebsocketProxyRequest{Body: "hi"}
	var cold []time.Duration
	for b.Loop() {
		p, err := lambdaruntime.NewPool(&lambdaruntime.Options{Bootstrap: bootstrap})
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
	b.ReportMetric(float64(median(cold).Microseconds()), "p50-µs")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
