package runtimeenv_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/store/memstore"
)

// TestDevStore: a local Lambda instance pointed at mullet dev's store uses
// the Store it is handed; without one (the AWS Lambda build) it refuses
// with an error that says why, rather than keep state in memory.
func TestDevStore(t *testing.T) {
	env := map[string]string{runtimeenv.LocalLambda: "1", runtimeenv.DevStoreURL: "http://127.0.0.1:1/token"}
	c := runtimeenv.FromEnv(func(k string) string { return env[k] })
	if c.DevStoreURL != env[runtimeenv.DevStoreURL] || !c.LocalLambda {
		t.Fatalf("FromEnv = %+v", c)
	}
	if got := c.Environ(); !slices.Contains(got, runtimeenv.DevStoreURL+"="+env[runtimeenv.DevStoreURL]) {
		t.Fatalf("Environ = %q, lacks the store URL", got)
	}
	cfg := aws.Config{Region: "us-east-1"}
	if _, err := runtimeenv.NewRuntime(cfg, c, nil); !errors.Is(err, runtimeenv.ErrDevStoreUnreachable) {
		t.Fatalf("NewRuntime without a Store = %v, want ErrDevStoreUnreachable", err)
	}
	st := memstore.New(nil)
	c.Store = st
	rt, err := runtimeenv.NewRuntime(cfg, c, nil)
	if err != nil || rt.Store != st {
		t.Fatalf("NewRuntime with a Store = %v, %v; want that store", rt, err)
	}
	c = runtimeenv.Config{LocalLambda: true}
	if _, err := runtimeenv.NewRuntime(cfg, c, nil); !errors.Is(err, runtimeenv.ErrNoSharedStore) {
		t.Fatalf("NewRuntime of a local instance without a shared store = %v, want ErrNoSharedStore", err)
	}
}
