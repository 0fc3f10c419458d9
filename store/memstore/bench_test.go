package memstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

func BenchmarkStateLoadSave(b *testing.B) {
	s := memstore.New(nil)
	ctx := context.Background()
	s.PutConnection(ctx, store.Connection{ID: "c", Expires: time.Now().Add(time.Hour)})
	data := []byte(`{"nick":"ann","rooms":["lobby"]}`)
	b.ReportAllocs()
	for b.Loop() {
		st, err := s.LoadState(ctx, "c")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.SaveState(ctx, "c", data, st.Version); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkArrivePair(b *testing.B) {
	s := memstore.New(nil)
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		key := "k" + strconv.Itoa(i)
		s.Arrive(ctx, key, 2, store.Arrival{ConnectionID: "a", Payload: []byte(`"1.2.3.4"`)}, exp)
		if st, err := s.Arrive(ctx, key, 2, store.Arrival{ConnectionID: "b", Payload: []byte(`"5.6.7.8"`)}, exp); err != nil || !st.Complete() {
			b.Fatal(err)
		}
	}
}
