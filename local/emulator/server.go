package emulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Server is an Emulator listening on a TCP address, loopback by default.
type Server struct {
	emu *Emulator
	ln  net.Listener
	srv *http.Server
	// host is ln's address as clients should dial it: an unspecified
	// address (0.0.0.0, ::) is replaced by loopback.
	host string
	// sock, if not nil, serves the same handler on a Unix socket for
	// clients in this process (see InProcessDialer).
	sock *unixSocket
}

// Listen creates an Emulator from opts and binds addr, e.g. "127.0.0.1:0"
// for a free port. An empty addr means DefaultAddr. The emulator's
// credentials are well known (DefaultCredentials) unless Options sets its
// own, and Options.AnySignature accepts any, so binding an address other
// than loopback exposes every connection to the network; Listen allows it
// but logs a warning. Call Serve to start serving.
func Listen(addr string, opts *Options) (*Server, error) {
	emu, err := New(opts)
	if err != nil {
		return nil, err
	}
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	tcp, _ := ln.Addr().(*net.TCPAddr)
	host := ln.Addr().String()
	if tcp != nil {
		ip := tcp.IP
		if !ip.IsLoopback() {
			emu.log.LogAttrs(context.Background(), slog.LevelWarn,
				"emulator: listening on a non-loopback address; the @connections API's credentials are well known (or any are accepted), so anyone who can reach this address can push to and close every connection",
				slog.String("addr", ln.Addr().String()))
		}
		if ip.IsUnspecified() {
			if ip.To4() != nil {
				ip = net.IPv4(127, 0, 0, 1)
			} else {
				ip = net.IPv6loopback
			}
		}
		host = net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
	}
	return &Server{
		emu:  emu,
		ln:   ln,
		host: host,
		srv: &http.Server{
			Handler:           emu,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(emu.log.Handler(), slog.LevelInfo),
			ConnContext:       markInProcess,
		},
	}, nil
}

// Serve serves connections until ctx is done or Close is called, then
// shuts down: every WebSocket is closed with 1001 and gets its
// $disconnect. It returns nil after such a stop, or the error that stopped
// the listener.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	if s.sock != nil {
		// Shutdown closes this listener too; its error is the same as ln's.
		go s.srv.Serve(s.sock.ln)
	}
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("emulator: serve: %w", err)
	case <-ctx.Done():
		_ = s.Close()
		<-errc
		return nil
	}
}

// Close closes every WebSocket (1001), waits up to 5 seconds for their
// $disconnect events, then closes the listener and every other connection.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	return s.Shutdown(ctx)
}

// Shutdown is like Close but waits until ctx is done rather than 5 seconds.
// @connections calls are served until every $disconnect has fired, so that
// $disconnect handlers can use them; then the listener and the remaining
// HTTP connections are closed without waiting for them.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.emu.Shutdown(ctx)
	if cerr := s.srv.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("emulator: close: %w", cerr))
	}
	_ = s.ln.Close() // in case Serve never ran
	if s.sock != nil {
		s.sock.close()
	}
	return err
}

// Emulator returns the server's handler.
func (s *Server) Emulator() *Emulator { return s.emu }

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// WebSocketURL returns the URL clients dial: ws://{addr}/{stage}.
func (s *Server) WebSocketURL() string { return "ws://" + s.host + "/" + s.emu.stage }

// CallbackURL returns the @connections base endpoint, http://{addr}/{stage}:
// the value for apigatewaymanagementapi.Options.BaseEndpoint.
func (s *Server) CallbackURL() string { return "http://" + s.host + "/" + s.emu.stage }

// InProcessDialer returns a DialContext for an http.Transport in this
// process that reaches the server's address through a Unix socket, and any
// other address as usual. Call it before Serve. Every push of an app bound
// in the same process is one HTTP request from its callback client to the
// @connections API; over a Unix socket the request and response skip the
// kernel's TCP loopback path, a tenth of the emulator's CPU per push
// (docs/benchmarks.md, push echo). The client still sends real HTTP
// requests to http://{addr}/{stage}: only the dialer changes, and everything
// outside the process uses the TCP address. Where a Unix socket cannot be
// made (a platform without them, a temporary directory path too long for a
// socket address), the dialer dials TCP, which works the same, only slower.
// The socket and its private directory are removed on Shutdown.
func (s *Server) InProcessDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	if s.sock == nil {
		s.sock = listenUnixSocket()
	}
	if s.sock == nil {
		return d.DialContext
	}
	return s.sock.dialer(s.host)
}

// unixSocket is a Unix socket in a private temporary directory.
type unixSocket struct {
	ln  net.Listener
	dir string
}

func listenUnixSocket() *unixSocket {
	dir, err := os.MkdirTemp("", "mullet-")
	if err != nil {
		return nil
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "emulator.sock"))
	if err != nil {
		os.RemoveAll(dir)
		return nil
	}
	return &unixSocket{ln: ln, dir: dir}
}

// dialer returns a DialContext that reaches tcpAddr through the socket,
// and any other address (or tcpAddr, once the socket is gone) over TCP.
func (u *unixSocket) dialer(tcpAddr string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	path := u.ln.Addr().String()
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == tcpAddr {
			if c, err := d.DialContext(ctx, "unix", path); err == nil {
				return c, nil
			}
		}
		return d.DialContext(ctx, network, addr)
	}
}

func (u *unixSocket) close() {
	u.ln.Close()
	os.RemoveAll(u.dir)
}

// inProcessKey marks the context of a request that arrived on the server's
// private Unix socket (InProcessDialer): one from a client in this process.
type inProcessKey struct{}

// markInProcess is the server's ConnContext: requests of connections
// accepted on the Unix socket carry inProcessKey.
func markInProcess(ctx context.Context, c net.Conn) context.Context {
	if _, ok := c.(*net.UnixConn); ok {
		return context.WithValue(ctx, inProcessKey{}, true)
	}
	return ctx
}

// fromInProcess reports whether r came over the private Unix socket.
func fromInProcess(r *http.Request) bool {
	v, _ := r.Context().Value(inProcessKey{}).(bool)
	return v
}
