package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/quic-go/quic-go"

	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/upgradeauth"
)

// Stream is one reliable, ordered, bidirectional byte stream of a link: a
// QUIC stream. Close ends the writing side (the peer reads io.EOF);
// CancelWrite and CancelRead abort a direction.
type Stream = quic.Stream

// Path is the way a link's packets travel.
type Path int

const (
	// Direct: UDP between the two ends, through the hole punched in their
	// NATs.
	Direct Path = iota + 1
	// Relay: through the rendezvous service's relay route, one websocket
	// frame per batch of packets.
	Relay
)

func (p Path) String() string {
	switch p {
	case Direct:
		return "direct"
	case Relay:
		return "relay"
	}
	return fmt.Sprintf("Path(%d)", int(p))
}

// Paths says which paths Dial may take. Both ends should ask for the same;
// if either asks for RelayOnly, both take the relay.
type Paths int

const (
	// DirectOrRelay tries the direct path and falls back to the relay.
	DirectOrRelay Paths = iota
	// DirectOnly fails with ErrNoPath when the punch fails.
	DirectOnly
	// RelayOnly goes through the service at once.
	RelayOnly
)

// Errors Dial returns, matched with errors.Is. A *ServiceError carries an
// error frame of the service; a *PinError is a key that is not the peer's.
var (
	// ErrNoPeer: the context ended before the peer arrived at the
	// rendezvous. The error also matches the context's error.
	ErrNoPeer = errors.New("peer: no peer arrived at the rendezvous")
	// ErrPeerIncompatible: the peer is a client that only asked for the
	// other side's address (no ports, no key), such as the original
	// library's; nothing can be established with it.
	ErrPeerIncompatible = errors.New("peer: the peer sent no key fingerprint; it is a client without peer-to-peer support")
	// ErrNoPath: neither the direct path nor (if allowed) the relay could be
	// established with the peer.
	ErrNoPath = errors.New("peer: no path to the peer")
)

// Options configures Dial. nil means defaults; Dial does not change the
// caller's struct.
type Options struct {
	// HTTPClient dials the rendezvous service. nil: http.DefaultClient.
	HTTPClient *http.Client
	// Upgrade, if set, may change the websocket upgrade request before it
	// is sent: its URL (a presigned SigV4 query string) and headers
	// (x-api-key, a SigV4 Authorization). See APIKey and SignV4.
	Upgrade func(ctx context.Context, req *http.Request) error
	// Certificate is this end's identity, pinned by the peer through the
	// rendezvous. nil: a new key and self-signed certificate
	// (NewCertificate) for this link.
	Certificate *tls.Certificate
	// UDPConn is the socket to punch from and run the direct path on; the
	// link owns it from then on. nil: a new socket on Port.
	UDPConn *net.UDPConn
	// Port is the local UDP port when UDPConn is nil. 0: any free port.
	// A port-preserving NAT maps it to the same public port, which is the
	// candidate the peer punches towards.
	Port int
	// Paths says which paths may be taken. Default DirectOrRelay.
	Paths Paths
	// PunchTTL is the TTL of the first packets (see the package
	// documentation): enough hops to leave through this end's own NAT,
	// too few to reach the peer's. Default 2, for a host directly behind
	// its NAT. Negative: no such packets.
	PunchTTL int
	// PunchTimeout bounds the direct attempt. Default 3 s.
	PunchTimeout time.Duration
	// Logger receives the link's debug messages. nil: none.
	Logger *slog.Logger
}

func (o *Options) punchTimeout() time.Duration {
	if o.PunchTimeout > 0 {
		return o.PunchTimeout
	}
	return 3 * time.Second
}

func (o *Options) punchTTL() int {
	switch {
	case o.PunchTTL < 0:
		return 0
	case o.PunchTTL == 0:
		return 2
	}
	return o.PunchTTL
}

// primeWait bounds the wait for the peer's "primed" message; without it the
// direct attempt goes ahead anyway.
const primeWait = 2 * time.Second

// relayHandshakeTimeout bounds the QUIC handshake through the service.
const relayHandshakeTimeout = 10 * time.Second

// Conn is an established link to the peer: a QUIC connection, direct or
// relayed, whose other end holds the key the rendezvous announced. Open
// and accept as many streams as needed; each is reliable and ordered.
//
// Close ends the link at once: data the peer has not yet acknowledged is
// lost, so confirm delivery on a stream (as p2pcat does) before closing.
type Conn struct {
	qc          *quic.Conn
	path        Path
	fingerprint string
	peer        string
	closeOnce   sync.Once
	closers     []func() error
	relay       *relayConn
}

// OpenStream opens a new stream to the peer. The peer's AcceptStream
// returns it when the first byte arrives.
func (c *Conn) OpenStream(ctx context.Context) (*Stream, error) { return c.qc.OpenStreamSync(ctx) }

// AcceptStream waits for the peer's next stream.
func (c *Conn) AcceptStream(ctx context.Context) (*Stream, error) { return c.qc.AcceptStream(ctx) }

// Path is the path the link took.
func (c *Conn) Path() Path { return c.path }

// Fingerprint is this end's key fingerprint.
func (c *Conn) Fingerprint() string { return c.fingerprint }

// PeerFingerprint is the fingerprint of the peer's key, which the TLS
// handshake verified.
func (c *Conn) PeerFingerprint() string { return c.peer }

// RemoteAddr is the peer's address: its public UDP address on the direct
// path, its connection ID on the relay.
func (c *Conn) RemoteAddr() net.Addr { return c.qc.RemoteAddr() }

// Context is done when the link ends, for any reason.
func (c *Conn) Context() context.Context { return c.qc.Context() }

// RelayFrames reports how many frames and bytes (before base64) this end
// sent through the service; zero on the direct path.
func (c *Conn) RelayFrames() (frames, bytes int64) {
	if c.relay == nil {
		return 0, 0
	}
	return c.relay.frames.Load(), c.relay.bytes.Load()
}

// Close ends the link and releases its socket and websocket.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.qc.CloseWithError(0, "closed")
		for i := len(c.closers) - 1; i >= 0; i-- {
			_ = c.closers[i]()
		}
	})
	return err
}

// link is the state of one Dial.
type link struct {
	o          *Options
	log        *slog.Logger
	s          *session
	relay      *relayConn
	udp        *net.UDPConn
	cert       tls.Certificate
	own, peer  string // fingerprints
	isClient   bool
	peerIP     net.IP
	candidates []*net.UDPAddr
	punchOwn   []byte
	punchPeer  []byte
	clientTLS  *tls.Config
	serverTLS  *tls.Config
}

func (l *link) quicConfig(handshake time.Duration) *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout: handshake,
		MaxIdleTimeout:       60 * time.Second,
		KeepAlivePeriod:      15 * time.Second,
		MaxIncomingStreams:   1000,
	}
}

// Dial pairs with the peer that dials the same pairingName at the
// rendezvous service at serviceURL (ws:// or wss://), then establishes a
// link to it: directly over UDP through both NATs if it can, else (unless
// opts says DirectOnly) through the service's relay route. Either way the
// link is QUIC with TLS 1.3, and the peer must present the key whose
// fingerprint it sent through the rendezvous.
//
// Dial waits for the peer as long as ctx allows; a context that ends first
// gives an error matching ErrNoPeer. It returns ErrPeerIncompatible if the
// peer is a client without peer-to-peer support, a *ServiceError if the
// service refuses the pairing, and an error matching ErrNoPath if no path
// works.
func Dial(ctx context.Context, serviceURL, pairingName string, opts *Options) (*Conn, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	l := &link{o: &o, log: o.Logger}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	c, err := l.dial(ctx, serviceURL, pairingName)
	if err != nil {
		l.cleanup()
		return nil, err
	}
	return c, nil
}

// cleanup releases what a failed Dial holds.
func (l *link) cleanup() {
	if l.relay != nil {
		l.relay.Close()
	}
	if l.s != nil {
		l.s.close()
	}
	if l.udp != nil {
		l.udp.Close()
	}
}

func (l *link) dial(ctx context.Context, serviceURL, pairingName string) (*Conn, error) {
	if l.o.Certificate != nil {
		l.cert = *l.o.Certificate
	} else {
		var err error
		if l.cert, err = NewCertificate(); err != nil {
			return nil, err
		}
	}
	var err error
	if l.own, err = certificateFingerprint(&l.cert); err != nil {
		return nil, err
	}
	l.udp = l.o.UDPConn
	if l.udp == nil && l.o.Paths != RelayOnly {
		if l.udp, err = net.ListenUDP("udp", &net.UDPAddr{Port: l.o.Port}); err != nil {
			return nil, fmt.Errorf("peer: open the UDP socket: %w", err)
		}
	}
	var ports []int
	if l.udp != nil {
		ports = []int{l.udp.LocalAddr().(*net.UDPAddr).Port}
	}
	l.relay = newRelayConn()
	if l.s, err = openSession(ctx, serviceURL, l.o); err != nil {
		return nil, err
	}
	l.s.packets = l.relay.deliver
	if err := l.s.pair(ctx, app.Pair{PairingName: pairingName, Ports: ports, Fingerprint: l.own}); err != nil {
		return nil, err
	}
	ans, err := l.s.waitAnswer(ctx)
	if err != nil {
		return nil, err
	}
	l.log.Debug("paired", "peer", ans.SourceIP, "ports", ans.Ports, "fingerprint", ans.Fingerprint)
	if ans.Fingerprint == "" || ans.ConnectionID == "" {
		return nil, ErrPeerIncompatible
	}
	if ans.Fingerprint == l.own {
		return nil, errors.New("peer: the peer presents this end's own key; give each end its own Certificate")
	}
	l.peer = ans.Fingerprint
	l.isClient = l.own < l.peer
	l.clientTLS, l.serverTLS = tlsConfigs(l.cert, l.peer)
	l.relay.start(l.s, ans.ConnectionID)
	if l.peerIP = net.ParseIP(ans.SourceIP); l.peerIP != nil {
		for _, p := range ans.Ports {
			l.candidates = append(l.candidates, &net.UDPAddr{IP: l.peerIP, Port: p})
		}
	}
	l.punchOwn = punchPacket(l.own)
	l.punchPeer = punchPacket(l.peer)

	if c, err := l.direct(ctx); c != nil || err != nil {
		return c, err
	}
	return l.relayed(ctx)
}

// direct runs the direct attempt. It returns (nil, nil) when the relay is
// to be tried.
func (l *link) direct(ctx context.Context) (*Conn, error) {
	relayOnly := l.o.Paths == RelayOnly || l.udp == nil || len(l.candidates) == 0
	if !relayOnly {
		if err := prime(l.udp, l.candidates, l.o.punchTTL(), l.punchOwn); err != nil {
			l.log.Debug("low-TTL packets", "error", err)
		}
	}
	var (
		tr *quic.Transport
		ln *quic.Listener
	)
	if !relayOnly {
		tr = &quic.Transport{Conn: l.udp}
		if !l.isClient {
			var err error
			if ln, err = tr.Listen(l.serverTLS, l.quicConfig(l.o.punchTimeout())); err != nil {
				tr.Close()
				return nil, fmt.Errorf("peer: listen on the UDP socket: %w", err)
			}
		}
	}
	var flags byte
	if relayOnly {
		flags = flagRelayOnly
	}
	if err := l.s.send(ctx, []byte{kindPrimed, flags}); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, primeWait)
	m, err := l.s.waitControl(wctx, kindPrimed)
	cancel()
	if err != nil {
		l.log.Debug("no primed message from the peer; punching anyway", "error", err)
	} else if len(m) > 1 && m[1]&flagRelayOnly != 0 {
		relayOnly = true
	}
	if relayOnly {
		if tr != nil {
			tr.Close()
		}
		if l.o.Paths == DirectOnly {
			return nil, fmt.Errorf("%w: the peer asked for the relay only", ErrNoPath)
		}
		return nil, nil
	}
	start := time.Now()
	var qc *quic.Conn
	if l.isClient {
		dctx, cancel := context.WithTimeout(ctx, l.o.punchTimeout())
		qc, err = dialDirect(dctx, l, tr)
		cancel()
	} else {
		// The client decides; wait for its handshake or its word that it
		// takes the relay, with room for that word to come through the
		// service.
		actx, cancel := context.WithTimeout(ctx, 2*l.o.punchTimeout()+2*time.Second)
		qc, err = acceptDirect(actx, l, tr, ln)
		cancel()
	}
	if ln != nil {
		ln.Close()
	}
	if err == nil {
		l.log.Debug("direct path", "peer", qc.RemoteAddr(), "ms", time.Since(start).Milliseconds())
		udp := l.udp
		l.s.close()
		l.relay.Close()
		l.s, l.relay, l.udp = nil, nil, nil
		return &Conn{qc: qc, path: Direct, fingerprint: l.own, peer: l.peer,
			closers: []func() error{udp.Close, tr.Close}}, nil
	}
	l.log.Debug("direct path failed", "error", err)
	tr.Close()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoPath, context.Cause(ctx))
	}
	if l.isClient {
		if err := l.s.send(ctx, []byte{kindUseRelay}); err != nil {
			return nil, err
		}
	}
	if l.o.Paths == DirectOnly {
		return nil, fmt.Errorf("%w: the punch failed: %w", ErrNoPath, err)
	}
	return nil, nil
}

// relayed establishes the link through the service.
func (l *link) relayed(ctx context.Context) (*Conn, error) {
	if l.udp != nil {
		l.udp.Close()
		l.udp = nil
	}
	tr := &quic.Transport{Conn: l.relay}
	conf := l.quicConfig(relayHandshakeTimeout)
	hctx, cancel := context.WithTimeout(ctx, 2*relayHandshakeTimeout)
	defer cancel()
	var (
		qc  *quic.Conn
		err error
	)
	if l.isClient {
		qc, err = tr.Dial(hctx, l.relay.peer, l.clientTLS, conf)
	} else {
		var ln *quic.Listener
		if ln, err = tr.Listen(l.serverTLS, conf); err == nil {
			qc, err = ln.Accept(hctx)
			ln.Close()
		}
	}
	if err != nil {
		tr.Close()
		return nil, fmt.Errorf("%w: the relay: %w", ErrNoPath, err)
	}
	s, relay := l.s, l.relay
	l.s, l.relay = nil, nil
	return &Conn{qc: qc, path: Relay, fingerprint: l.own, peer: l.peer, relay: relay,
		closers: []func() error{func() error { s.close(); return nil }, relay.Close, tr.Close}}, nil
}

// SignV4 returns an Upgrade func that presigns the upgrade URL with AWS
// Signature Version 4 for the execute-api service in region, as an API
// Gateway WebSocket API with IAM authorization on $connect expects (see
// package upgradeauth, which signs in headers too).
func SignV4(creds aws.CredentialsProvider, region string) func(context.Context, *http.Request) error {
	return (&upgradeauth.Signer{Credentials: creds, Region: region, Presign: true}).Sign
}

// APIKey returns an Upgrade func that sends key in the x-api-key header,
// as API Gateway's API keys expect.
func APIKey(key string) func(context.Context, *http.Request) error {
	return upgradeauth.APIKey(key)
}
