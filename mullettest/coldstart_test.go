package mullettest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/bootstrap"
	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/local/lambdaruntime"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
)

// BenchmarkChatColdStart measures the cold start of the chat example's
// Lambda bootstrap (bootstrap.Build, the AWS build): the time from starting
// a new instance to its first invocation answered, a $connect that writes
// the connection and its session to a dynalite table, through the emulated
// Lambda Runtime API. Each iteration starts one instance with tracing off
// and one with tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set to a local OTLP
// receiver that accepts everything), alternating so that the machine's
// drift hits both alike; MULLET_COLDSTART_BASELINE may name a bootstrap of
// another revision, started in turn too. It reports the medians and the
// bootstrap's size for this machine and for linux/arm64, the deployed
// target.
func BenchmarkChatColdStart(b *testing.B) {
	db := dynalitetest.Start(b)
	table := db.NewTable(b)
	dir := b.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	ctx := context.Background()
	if err := bootstrap.Build(ctx, "../examples/chat", bin, nil); err != nil {
		b.Fatal(err)
	}
	arm := filepath.Join(dir, "bootstrap-arm64")
	if err := bootstrap.Build(ctx, "../examples/chat", arm, &bootstrap.Options{GOOS: "linux", GOARCH: "arm64"}); err != nil {
		b.Fatal(err)
	}
	otlp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(otlp.Close)
	env := []string{
		runtimeenv.LocalLambda + "=1", runtimeenv.Table + "=" + table, runtimeenv.DynamoDBEndpoint + "=" + db.Endpoint,
		runtimeenv.CallbackURL + "=http://127.0.0.1:1/local",
	}
	type variant struct {
		name, bin string
		env       []string
		cold      []time.Duration
	}
	variants := []*variant{
		{name: "off", bin: bin, env: env},
		{name: "on", bin: bin, env: append(slices.Clone(env), "OTEL_EXPORTER_OTLP_ENDPOINT="+otlp.URL)},
	}
	if base := os.Getenv("MULLET_COLDSTART_BASELINE"); base != "" {
		// A bootstrap of another revision, built the same way, to compare
		// in the same run.
		variants = append(variants, &variant{name: "baseline", bin: base, env: env})
	}
	i := 0
	for b.Loop() {
		for v := range variants {
			i++
			ev := &events.APIGatewayWebsocketProxyRequest{}
			ev.RequestContext.EventType, ev.RequestContext.RouteKey = "CONNECT", "$connect"
			ev.RequestContext.ConnectionID = "Zw6VnDsn7eG6En" + string(rune('A'+i%26)) + string(rune('a'+i/26%26)) + "="
			ev.RequestContext.ConnectedAt = time.Now().UnixMilli()
			p, err := lambdaruntime.NewPool(&lambdaruntime.Options{Bootstrap: variants[v].bin, Env: variants[v].env, Output: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			resp, err := p.Invoke(ctx, ev)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("$connect: %d %v", resp.StatusCode, err)
			}
			b.StopTimer()
			variants[v].cold = append(variants[v].cold, p.Stats().Cold.P50)
			p.Close()
			b.StartTimer()
		}
	}
	for _, v := range variants {
		slices.Sort(v.cold)
		b.ReportMetric(float64(v.cold[len(v.cold)/2].Microseconds()), "cold-"+v.name+"-p50-µs")
	}
	for name, path := range map[string]string{"size-bytes": bin, "arm64-size-bytes": arm} {
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fi.Size()), name)
	}
}
