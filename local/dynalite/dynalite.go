package dynalite

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mulletgo/mullet/internal/syncbuf"
	"github.com/mulletgo/mullet/store/dynamostore"
)

// Version is the dynalite release mullet is tested with, the one its
// package.json pins.
const Version = "4.0.0"

// Region is the region of the clients Client makes. dynalite accepts any.
const Region = "us-east-1"

// ErrUnavailable is returned by Start (wrapped, with what is missing and
// how to install it) when node or the dynalite package cannot be found.
var ErrUnavailable = errors.New("dynalite is not available")

// DefaultStartTimeout bounds how long Start waits for the server to accept
// connections when ctx has no earlier deadline.
const DefaultStartTimeout = 20 * time.Second

// Options configures Start. nil means defaults.
type Options struct {
	// Dirs are the directories where node_modules/dynalite is looked for,
	// each and then the directories above it, in order. Default: the
	// working directory.
	Dirs []string
}

// Server is a running dynalite process.
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:PORT, for
	// dynamodb.Options.BaseEndpoint.
	Endpoint string

	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
}

// Start launches dynalite on 127.0.0.1 on a free port and waits, within
// ctx and DefaultStartTimeout, until it accepts connections. The process
// outlives ctx; Close ends it. An error matching ErrUnavailable says what
// is missing and how to install it.
func Start(ctx context.Context, opts *Options) (*Server, error) {
	var dirs []string
	if opts != nil {
		dirs = opts.Dirs
	}
	node, cli, err := Locate(dirs...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultStartTimeout)
	defer cancel()
	var lastErr error
	for range 3 { // the free port may be taken before dynalite binds it
		s, err := start(ctx, node, cli)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// Locate returns node on PATH and dynalite's CLI script, found as
// node_modules/dynalite/cli.js in one of dirs (default: the working
// directory) or a directory above it. Its error matches ErrUnavailable.
func Locate(dirs ...string) (node, cli string, err error) {
	if len(dirs) == 0 {
		wd, err := os.Getwd()
		if err != nil {
			return "", "", err
		}
		dirs = []string{wd}
	}
	var searched []string
	for _, dir := range dirs {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", "", err
		}
		searched = append(searched, abs)
		for d := abs; cli == ""; {
			if p := filepath.Join(d, "node_modules", "dynalite", "cli.js"); fileExists(p) {
				cli = p
				break
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
		if cli != "" {
			break
		}
	}
	node, nodeErr := exec.LookPath("node")
	switch {
	case cli == "" && nodeErr != nil:
		return "", "", fmt.Errorf("%w: node (20 or later) is not on PATH and dynalite is not installed (no node_modules/dynalite in %s or above); install node and npm, then run `npm install --save-dev dynalite@%s` in your project (or `npm ci` in a checkout of mullet, whose package.json pins it)", ErrUnavailable, searched[0], Version)
	case cli == "":
		return "", "", fmt.Errorf("%w: dynalite is not installed (no node_modules/dynalite in %s or above); run `npm install --save-dev dynalite@%s` in your project (or `npm ci` in a checkout of mullet, whose package.json pins it)", ErrUnavailable, searched[0], Version)
	case nodeErr != nil:
		return "", "", fmt.Errorf("%w: node (20 or later) is not on PATH, so dynalite (%s) cannot run; install node and npm, then run `npm ci` (or `npm install`) in %s", ErrUnavailable, cli, filepath.Dir(filepath.Dir(filepath.Dir(cli))))
	}
	return node, cli, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// condCheckJS runs dynalite's CLI with ReturnValuesOnConditionCheckFailure
// added, which dynalite 4.0.0 ignores; see the file.
//
//go:embed condcheck.js
var condCheckJS string

func start(ctx context.Context, node, cli string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(node, "-e", condCheckJS, cli,
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
	for {
		var d net.Dialer
		dialCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		c, err := d.DialContext(dialCtx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("dynalite exited before accepting connections on %s (%v); output:\n%s", addr, cmd.ProcessState, out)
		case <-ctx.Done():
			s.Close()
			return nil, fmt.Errorf("dynalite did not accept connections on %s in time (%w); output:\n%s", addr, ctx.Err(), out)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Close kills the server's process group and waits for it to exit.
func (s *Server) Close() error {
	killProcessGroup(s.cmd)
	select {
	case <-s.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("dynalite (pid %d) did not exit within 10s of SIGKILL", s.cmd.Process.Pid)
	}
}

// Output returns what the server has printed so far, for diagnosing a
// failure.
func (s *Server) Output() string { return s.out.String() }

// Client returns a DynamoDB client of the server with placeholder
// credentials; optFns apply after the defaults, for example to add
// middleware with dynamodb.WithAPIOptions.
func (s *Server) Client(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("dynalite", "dynalite", ""),
	}, optFns...)
}

// CreateTable creates the table name with dynamostore's layout (pk/sk
// string keys, pay per request) and waits until it is ACTIVE. A table that
// exists already is not an error.
func (s *Server) CreateTable(ctx context.Context, name string) error {
	return dynamostore.New(s.Client(), name, nil).CreateTable(ctx)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
