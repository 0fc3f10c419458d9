package app_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mulletgo/mullet/framework/store"
	"github.com/mulletgo/mullet/framework/store/dynamostore"
	"github.com/mulletgo/mullet/framework/store/dynamostore/dynalitetest"
	"github.com/mulletgo/mullet/framework/store/memstore"
)

// backend is a store the end-to-end tests run against: the embedded
// in-memory store, and DynamoDB's API as served by dynalite.
type backend struct {
	name string
	new  func(t *testing.T) store.Store
}

func backends() []backend {
	return []backend{
		{"memory", func(t *testing.T) store.Store { return memstore.New(nil) }},
		{"dynamodb", func(t *testing.T) store.Store { return newDynamoStore(t, nil) }},
	}
}

// newDynamoStore starts dynalite (skipping without node, failing in CI) and
// returns a store on a fresh table, counting requests into counter if set.
func newDynamoStore(t *testing.T, counter *dynamostore.RequestCounter) *dynamostore.Store {
	t.Helper()
	var opts []func(*dynamodb.Options)
	if counter != nil {
		opts = append(opts, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, counter.Middleware()) })
	}
	return dynalitetest.NewStore(t, opts...)
}
