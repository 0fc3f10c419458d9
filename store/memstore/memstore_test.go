package memstore_test

import (
	"testing"

	"github.com/mulletgo/mullet/mullettest/storetest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) store.Store {
		return memstore.New(&memstore.Options{Now: clock.Now})
	})
}
