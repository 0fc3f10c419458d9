package devstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/mulletgo/mullet/local/devstore"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// BenchmarkLoadSave is one state update (LoadState then SaveState), the
// store traffic of a typical frame: through a Client of a served memstore
// (what an instance under mullet dev pays) and on the memstore itself.
func BenchmarkLoadSave(b *testing.B) {
	for _, tc := range []struct {
		name string
		st   func(b *testing.B) store.Store
	}{
		{"memstore", func(*testing.B) store.Store { return memstore.New(nil) }},
		{"devstore", func(b *testing.B) store.Store {
			srv, err := devstore.Listen(memstore.New(nil))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { srv.Close() })
			return devstore.New(srv.URL, nil)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st := tc.st(b)
			ctx := context.Background()
			if err := st.PutConnection(ctx, store.Connection{ID: "c", Expires: time.Now().Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
			data := []byte(`{"nick":"ann","rooms":["lobby"]}`)
			for b.Loop() {
				s, err := st.LoadState(ctx, "c")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := st.SaveState(ctx, "c", data, s.Version); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
