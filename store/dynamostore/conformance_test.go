package dynamostore_test

import (
	"testing"

	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/mullettest/storetest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/dynamostore"
)

func TestConformance(t *testing.T) {
	srv := dynalitetest.Start(t)
	client := srv.NewClient(t)
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) store.Store {
		return dynamostore.New(client, srv.NewTable(t), &dynamostore.Options{Now: clock.Now})
	})
}
