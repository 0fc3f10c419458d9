//go:build !lambda.norpc

package mullet

import (
	"context"
	"net"
	"os"
	"path/filepath"
)

// localSocket is a Unix socket on which the local server serves the same
// handler as on its TCP address, for the callback client of an app bound in
// the same process. Every push is one HTTP request from that client to the
// emulator's @connections API; over a Unix socket the request and response
// skip the kernel's TCP loopback path, which is a tenth of the emulator's
// CPU per push (docs/benchmarks.md). The client is still the unmodified SDK
// client sending real HTTP requests to the URL http://{addr}/{stage}: only
// the dialer changes. Anything outside the process (the CLI, Lambda
// instances, a test's SDK client) uses the TCP address.
type localSocket struct {
	ln  net.Listener
	dir string
}

// listenLocalSocket listens on a Unix socket in a new private directory. It
// returns nil where that is not possible (a platform without Unix sockets,
// a temporary directory path too long for a socket address); the callback
// client then dials the TCP address, which works the same, only slower.
func listenLocalSocket() *localSocket {
	dir, err := os.MkdirTemp("", "mullet-")
	if err != nil {
		return nil
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "emulator.sock"))
	if err != nil {
		os.RemoveAll(dir)
		return nil
	}
	return &localSocket{ln: ln, dir: dir}
}

// dialer returns a DialContext for an http.Transport that reaches tcpAddr
// through the socket and any other address as usual.
func (s *localSocket) dialer(tcpAddr string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	path := s.ln.Addr().String()
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == tcpAddr {
			if c, err := d.DialContext(ctx, "unix", path); err == nil {
				return c, nil
			}
		}
		return d.DialContext(ctx, network, addr)
	}
}

// close removes the socket; the server that served on it has stopped or is
// stopping.
func (s *localSocket) close() {
	s.ln.Close()
	os.RemoveAll(s.dir)
}
