package dynalitetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mulletgo/mullet/internal/syncbuf"
	"github.com/mulletgo/mullet/store/dynamostore"
)

// modulePath identifies the repository root: the directory whose go.mod
// declares this module.
const modulePath = "github.com/mulletgo/mullet"

// Region is the region clients made by NewClient use. dynalite accepts any.
const Region = "us-east-1"

// startTimeout bounds how long Start waits for the server to accept
// connections.
const startTimeout = 20 * time.Second

// Server is a running dynalite process.
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:PORT, for
	// dynamodb.Options.BaseEndpoint.
	Endpoint string

	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
}

// tableSeq makes table names unique within a test binary.
var tableSeq atomic.Int64

// Start launches dynalite on 127.0.0.1 on a free port, waits until it
// accepts connections and registers its shutdown with tb.Cleanup. It skips
// the test when node or the dynalite package is missing, or fails it if the
// environment has CI=true.
func Start(tb testing.TB) *Server {
	tb.Helper()
	node, cli, err := locate()
	if err != nil {
		unavailable(tb, err)
		return nil
	}
	var lastErr error
	for range 3 { // the free port may be taken before dynalite binds it
		s, err := start(node, cli)
		if err == nil {
			tb.Cleanup(s.stop)
			return s
		}
		lastErr = err
	}
	tb.Fatalf("dynalitetest: %v", lastErr)
	return nil
}

// NewClient returns a DynamoDB client for the server with static
// credentials. optFns apply after the defaults, for example to add
// middleware with dynamodb.WithAPIOptions.
func (s *Server) NewClient(tb testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	tb.Helper()
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("dynalite", "dynalite", ""),
	}, optFns...)
}

// NewTable creates a table with a unique name and dynamostore's layout
// (pk/sk string keys, pay per request), waits until it is ACTIVE and returns
// its name.
func (s *Server) NewTable(tb testing.TB) string {
	tb.Helper()
	name := tableName(tb.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dynamostore.New(s.NewClient(tb), name, nil).CreateTable(ctx); err != nil {
		tb.Fatalf("dynalitetest: %v", err)
	}
	return name
}

// Output returns what the server has printed so far, for diagnosing a
// failure.
func (s *Server) Output() string { return s.out.String() }

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

func start(node, cli string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(node, cli,
		"--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	cmd.Dir = filepath.Dir(cli)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s %s: %w", node, cli, err)
	}
	s := &Server{Endpoint: "http://" + addr, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()

	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("dynalite exited before accepting connections on %s (%v); output:\n%s", addr, cmd.ProcessState, out)
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("dynalite did not accept connections on %s within %v; output:\n%s", addr, startTimeout, out)
		}
	}
}

// stop kills the server's process group and waits for it to exit.
func (s *Server) stop() {
	killProcessGroup(s.cmd)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// locate finds node on PATH and dynalite's CLI under the repository root.
func locate() (node, cli string, err error) {
	root, err := repoRoot()
	if err != nil {
		return "", "", err
	}
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", fmt.Errorf("node (20 or later) is not on PATH, so dynalite cannot run; install node and npm, then run `npm ci` in %s", root)
	}
	cli = filepath.Join(root, "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		return "", "", fmt.Errorf("dynalite is not installed (%s is missing); run `npm ci` in %s", cli, root)
	}
	return node, cli, nil
}

// repoRoot walks up from the working directory to the go.mod of this
// module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (a go.mod declaring module " + modulePath + ") above the working directory, so dynalite cannot be located")
		}
		dir = parent
	}
}

func isModuleRoot(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath
		}
	}
	return false
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
