package devstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/mulletgo/mullet/local/devstore"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// One process holds the store; another reaches it through the URL.
func Example() {
	srv, err := devstore.Listen(memstore.New(nil))
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	ctx := context.Background()
	st := devstore.New(srv.URL, nil)
	st.PutConnection(ctx, store.Connection{ID: "c1", Expires: time.Now().Add(time.Hour)})
	v, err := st.SaveState(ctx, "c1", []byte(`{"nick":"ann"}`), 0)
	fmt.Println(v, err)
	got, _ := st.LoadState(ctx, "c1")
	fmt.Printf("%s\n", got.Data)
	// Output:
	// 1 <nil>
	// {"nick":"ann"}
}
