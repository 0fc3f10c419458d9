package memstore_test

import (
	"testing"

	"github.com/mulletgo/mullet/framework/store"
	"github.com/mulletgo/mullet/framework/store/memstore"
	"github.com/mulletgo/mullet/framework/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) store.Store {
		return memstore.New(&memstore.Options{Now: clock.Now})
	})
}
