package cost_test

import (
	"math"
	"os"
	"testing"

	"github.com/mulletgo/mullet/cost"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func TestRendezvousArithmetic(t *testing.T) {
	p := cost.ListPrices()
	l := cost.Latencies{DynamoDB: 5, Callback: 10, Overhead: 1}
	u := p.Rendezvous(256, 1, l)
	// 6 invocations: 6+6+6+36+11+11 = 76 ms at 0.25 GB.
	if u.Invocations != 6 || !near(u.GBSeconds, 0.076*0.25) || u.Messages != 4 || u.WriteUnits != 6 || u.ReadUnits != 2 || u.ConnectionMinutes != 2 {
		t.Fatalf("usage = %+v", u)
	}
	b := p.Price(u.Scale(1e6))
	want := 4*1.00 + 2*0.25 + 6*0.20 + 0.076*0.25*1e6*0.0000133334 + 6*0.625 + 2*0.125
	if !near(b.Total(), want) {
		t.Fatalf("total = %v, want %v", b.Total(), want)
	}
}

func TestMessageUnits(t *testing.T) {
	p := cost.ListPrices()
	for n, want := range map[int]float64{0: 1, 1: 1, 32 * 1024: 1, 32*1024 + 1: 2, 128 * 1024: 4} {
		if got := p.MessageUnits(n); got != want {
			t.Errorf("MessageUnits(%d) = %v, want %v", n, got, want)
		}
	}
}

func ExampleReport() {
	cost.Report(os.Stdout, cost.ListPrices(), 10, 200, 256, 1, cost.DefaultLatencies())
	// Output:
	// AWS list prices: us-east-1, as of 2026-11 (API Gateway and Lambda unchanged since 2020; DynamoDB on-demand after the November 2024 reduction)
	// assumed: Lambda arm64 256 MB; DynamoDB 5 ms, @connections 10 ms, overhead 1 ms per call
	//
	//                                 per million  messages  conn-minutes  Lambda req  Lambda GB-s  DynamoDB writes  DynamoDB reads  total USD
	//           chat messages (200 B, room of 10)     11.00          0.00        0.20         0.07             0.00            0.25      11.52
	//       rendezvous pairings (1 min connected)      4.00          0.50        1.20         0.25             3.75            0.25       9.95
	//   durable chat messages (200 B, room of 10)     11.00          0.00        0.20         0.10             0.62            0.38      12.30
	//     session resumes (2 rooms with presence)      2.00          0.00        0.60         0.56             8.12            1.25      12.54
	// RESULT chat_usd_per_million=11.52 rendezvous_usd_per_million=9.95
}
