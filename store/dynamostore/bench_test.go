package dynamostore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/dynamostore"
)

// BenchmarkArrive measures one arrival against dynalite; every second
// arrival completes a pair.
func BenchmarkArrive(b *testing.B) {
	srv := dynalitetest.Start(b)
	client, rc := counted(b, srv, "")
	s := dynamostore.New(client, srv.NewTable(b), nil)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	rc.Reset()
	i := 0
	for b.Loop() {
		if _, err := s.Arrive(ctx, fmt.Sprintf("k%d", i/2), 2, arrival(fmt.Sprintf("c%d", i%2)), exp); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(rc.Total())/float64(i), "requests/op")
}

// BenchmarkArriveParallel measures arrivals from concurrent callers, as
// from many Lambdas.
func BenchmarkArriveParallel(b *testing.B) {
	srv := dynalitetest.Start(b)
	client, _ := counted(b, srv, "")
	s := dynamostore.New(client, srv.NewTable(b), nil)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			if _, err := s.Arrive(ctx, fmt.Sprintf("k%d", i/2), 2, arrival(fmt.Sprintf("c%d", i%2)), exp); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSaveState measures one versioned state write against dynalite.
func BenchmarkSaveState(b *testing.B) {
	srv := dynalitetest.Start(b)
	client, rc := counted(b, srv, "")
	s := dynamostore.New(client, srv.NewTable(b), nil)
	ctx := context.Background()
	must(b, s.PutConnection(ctx, store.Connection{ID: "c1", ConnectedAt: time.Now(), Expires: time.Now().Add(time.Hour)}))
	data := []byte(`{"peer":"192.0.2.1:40000","n":12345}`)
	rc.Reset()
	var v int64
	for b.Loop() {
		var err error
		if v, err = s.SaveState(ctx, "c1", data, v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rc.Total())/float64(v), "requests/op")
}
