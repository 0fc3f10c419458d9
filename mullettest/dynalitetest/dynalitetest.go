package dynalitetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mulletgo/mullet/local/dynalite"
	"github.com/mulletgo/mullet/store/dynamostore"
)

// Region is the region clients made by NewClient use. dynalite accepts any.
const Region = dynalite.Region

// Server is a running dynalite process.
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:PORT, for
	// dynamodb.Options.BaseEndpoint.
	Endpoint string

	srv *dynalite.Server
}

// tableSeq makes table names unique within a test binary.
var tableSeq atomic.Int64

// Start launches dynalite on 127.0.0.1 on a free port (package
// local/dynalite), waits until it accepts connections and registers its
// shutdown with tb.Cleanup. It skips the test when node or the dynalite
// package is missing, or fails it if the environment has CI=true.
func Start(tb testing.TB) *Server {
	tb.Helper()
	srv, err := dynalite.Start(context.Background(), nil)
	if errors.Is(err, dynalite.ErrUnavailable) {
		unavailable(tb, err)
		return nil
	}
	if err != nil {
		tb.Fatalf("dynalitetest: %v", err)
		return nil
	}
	tb.Cleanup(func() { srv.Close() })
	return &Server{Endpoint: srv.Endpoint, srv: srv}
}

// NewClient returns a DynamoDB client for the server with static
// credentials. optFns apply after the defaults, for example to add
// middleware with dynamodb.WithAPIOptions.
func (s *Server) NewClient(tb testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	tb.Helper()
	return s.srv.Client(optFns...)
}

// NewTable creates a table with a unique name and dynamostore's layout
// (pk/sk string keys, pay per request), waits until it is ACTIVE and returns
// its name.
func (s *Server) NewTable(tb testing.TB) string {
	tb.Helper()
	name := tableName(tb.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.srv.CreateTable(ctx, name); err != nil {
		tb.Fatalf("dynalitetest: %v", err)
	}
	return name
}

// Output returns what the server has printed so far, for diagnosing a
// failure.
func (s *Server) Output() string { return s.srv.Output() }

func tableName(testName string) string {
	var b strings.Builder
	for _, r := range testName {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 180 {
			break
		}
	}
	return fmt.Sprintf("mullet-%d-%s", tableSeq.Add(1), b.String())
}

// unavailable skips the test, or fails it in CI, where a missing server
// means the machine was set up wrong.
func unavailable(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("dynalitetest: %v (CI=true, so this is an error rather than a skip)", err)
	}
	tb.Skipf("dynalitetest: %v", err)
}

// NewStore starts a dynalite server for the test and returns a
// dynamostore.Store on a fresh table of it, with optFns applied to the
// client (e.g. a dynamostore.RequestCounter's middleware).
func NewStore(tb testing.TB, optFns ...func(*dynamodb.Options)) *dynamostore.Store {
	tb.Helper()
	srv := Start(tb)
	return dynamostore.New(srv.NewClient(tb, optFns...), srv.NewTable(tb), nil)
}
