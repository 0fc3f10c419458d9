package devstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/local/devstore"
	"github.com/mulletgo/mullet/mullettest/storetest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// TestConformance runs the store suite against a Client of a memstore
// served by Handler: the protocol loses nothing of the contract.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock *storetest.Clock) store.Store {
		srv := httptest.NewServer(devstore.Handler(memstore.New(&memstore.Options{Now: clock.Now})))
		t.Cleanup(srv.Close)
		return devstore.New(srv.URL, nil)
	})
}

// TestListen: a listening Server is reached through its URL only, and a
// closed one gives an error that says where it looked.
func TestListen(t *testing.T) {
	srv, err := devstore.Listen(memstore.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want a loopback URL", srv.URL)
	}
	ctx := context.Background()
	c := devstore.New(srv.URL, nil)
	if _, err := c.GetConnection(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConnection(unknown) = %v, want ErrNotFound", err)
	}
	// Without the random path the store is not there.
	base := srv.URL[:strings.LastIndex(srv.URL, "/")]
	resp, err := http.Post(base+"/v1/GetConnection", "application/json", strings.NewReader(`{"id":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("request without the token: %s, want 404", resp.Status)
	}
	// Unknown operations are refused with a message naming the protocol.
	resp, err = http.Post(srv.URL+"/v1/Drop", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown operation: %s, want 404", resp.Status)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetConnection(ctx, "x"); err == nil || !strings.Contains(err.Error(), "is mullet dev still running?") {
		t.Fatalf("GetConnection after Close = %v, want an error naming the store", err)
	}
}

// TestNotInLambdaBuild: the AWS Lambda build of an app (-tags
// lambda.norpc) links no package of local/, this one included: only the
// local build can reach mullet dev's store.
func TestNotInLambdaBuild(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "github.com/mulletgo/mullet/examples/rendezvous").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/mulletgo/mullet/local") {
			t.Errorf("the Lambda build links %s", pkg)
		}
	}
	out, err = exec.Command("go", "list", "-deps", "github.com/mulletgo/mullet/examples/rendezvous").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "github.com/mulletgo/mullet/local/devstore\n") {
		t.Fatalf("the local build does not link local/devstore (%v)", err)
	}
}
