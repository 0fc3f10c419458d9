package dynamostore_test

import (
	"testing"

	"github.com/mulletgo/mullet/framework/store"
	"github.com/mulletgo/mullet/framework/store/dynamostore"
	"github.com/mulletgo/mullet/framework/store/dynamostore/dynalitetest"
	"github.com/mulletgo/mullet/framework/store/storetest"
)

func TestConformance(t *testing.T) {
	srv := dynalitetest.Start(t)
	client := srv.NewClient(t)
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) store.Store {
		return dynamostore.New(client, srv.NewTable(t), &dynamostore.Options{Now: clock.Now})
	})
}
