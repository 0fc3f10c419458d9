package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/mullettest/dynalitetest"
	"github.com/mulletgo/mullet/store/dynamostore"
	"github.com/mulletgo/mullet/store/memstore"
)

// The tenants of the tests: API keys in the example's plans.
const (
	tenantAKey = "tenant-a-key-000000000001"
	tenantBKey = "tenant-b-key-000000000002"
	freeKey    = "tenant-free-key-00000003"
)

var testKeys = []emulator.APIKey{
	{Name: "tenant-a", Value: tenantAKey, Plan: app.PaidPlanName},
	{Name: "tenant-b", Value: tenantBKey, Plan: app.PaidPlanName},
	{Name: "tenant-free", Value: freeKey, Plan: app.FreePlanName},
}

// tenantA and tenantB dial as those tenants.
var (
	tenantA = &mullettest.DialOptions{Header: http.Header{"X-Api-Key": {tenantAKey}}}
	tenantB = &mullettest.DialOptions{Header: http.Header{"X-Api-Key": {tenantBKey}}}
)

// backend is a way to run the example that the end-to-end tests run
// against: in process on the embedded in-memory store; in process on
// DynamoDB's API as served by dynalite; and as the example's real Lambda
// binary (its own main package, driven by aws-lambda-go) behind an emulated
// Lambda Runtime API, instances sharing a dynalite table.
type backend struct {
	name string
	// pairs is how many concurrent pairs TestManyPairs runs: dynalite is
	// one single-threaded node process, and 200 concurrent pairs queue
	// behind it for seconds, which real DynamoDB never does.
	pairs int
	// serve serves the app of party size n; mainDir is the main package
	// that declares the same app, for the Lambda backend.
	serve func(t *testing.T, n int, mainDir string) *mullettest.Server
}

func backends() []backend {
	return []backend{
		{"memory", 200, func(t *testing.T, n int, _ string) *mullettest.Server {
			return mullettest.NewServer(t, app.New(n), &mullettest.Options{APIKeys: testKeys, Store: memstore.New(nil)})
		}},
		{"dynamodb", 50, func(t *testing.T, n int, _ string) *mullettest.Server {
			return mullettest.NewServer(t, app.New(n), &mullettest.Options{APIKeys: testKeys, Store: newDynamoStore(t, nil)})
		}},
		{"lambda", 50, func(t *testing.T, n int, mainDir string) *mullettest.Server {
			db := dynalitetest.Start(t)
			srv := mullettest.NewServer(t, app.New(n), &mullettest.Options{APIKeys: testKeys, Lambda: &mullettest.Lambda{
				MainDir: mainDir, Table: db.NewTable(t), DynamoDBEndpoint: db.Endpoint,
			}})
			t.Cleanup(func() {
				st := srv.Pool.Stats()
				t.Logf("lambda: %d instances started, %d invocations (%d failed); cold p50 %v; warm p50 %v, p99 %v",
					st.Started, st.Invocations, st.Errors, st.Cold.P50.Round(time.Microsecond),
					st.Warm.P50.Round(time.Microsecond), st.Warm.P99.Round(time.Microsecond))
			})
			return srv
		}},
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
