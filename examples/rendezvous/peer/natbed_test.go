package peer_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/mulletgo/mullet/examples/rendezvous/peer"
	"github.com/mulletgo/mullet/examples/rendezvous/peer/internal/natbed"
	"github.com/mulletgo/mullet/framework/runtimeenv"
)

// binaries are the rendezvous service and p2pcat, built once per test run
// (without the race detector, so that they run at their real speed).
var binaries struct {
	once         sync.Once
	dir          string
	err          error
	service, cat string
}

func build(t testing.TB) (service, cat string) {
	t.Helper()
	binaries.once.Do(func() {
		binaries.dir, binaries.err = os.MkdirTemp("", "natbed-bin")
		if binaries.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binaries.dir+"/", "..", "../cmd/p2pcat")
		var out []byte
		if out, binaries.err = cmd.CombinedOutput(); binaries.err != nil {
			binaries.err = fmt.Errorf("go build: %v: %s", binaries.err, out)
		}
		binaries.service, binaries.cat = filepath.Join(binaries.dir, "rendezvous"), filepath.Join(binaries.dir, "p2pcat")
	})
	if binaries.err != nil {
		t.Fatal(binaries.err)
	}
	return binaries.service, binaries.cat
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// bed builds a NAT test bed with the service running in it.
func bed(t testing.TB, opts *natbed.Options) (*natbed.Bed, string) {
	t.Helper()
	if why := natbed.Available(); why != "" && os.Getenv("CI") != "true" {
		t.Skipf("the NAT test bed %s", why)
	}
	service, _ := build(t)
	b := natbed.New(t, opts)
	keys, err := json.Marshal(testKeys)
	if err != nil {
		t.Fatal(err)
	}
	keysFile := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keysFile, keys, 0o600); err != nil {
		t.Fatal(err)
	}
	return b, b.Serve(t, service, runtimeenv.APIKeys+"="+keysFile)
}

// endOptions are the options of an end dialing from ns.
func endOptions(t testing.TB, ns *natbed.Namespace, o peer.Options) *peer.Options {
	t.Helper()
	if o.UDPConn == nil && o.Paths != peer.RelayOnly {
		c, err := ns.ListenUDP(o.Port)
		if err != nil {
			t.Fatal(err)
		}
		o.UDPConn = c
	}
	if o.HTTPClient == nil {
		o.HTTPClient = ns.HTTPClient()
	}
	if os.Getenv("P2P_DEBUG") != "" {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("ns", ns.Name)
	}
	return &o
}

func TestNATBed(t *testing.T) {
	t.Run("port-preserving NATs take the direct path", func(t *testing.T) {
		b, url := bed(t, nil)
		l, r := dialPair(t, url, "eim", endOptions(t, b.Left, peer.Options{}), endOptions(t, b.Right, peer.Options{}))
		if l.Path() != peer.Direct || r.Path() != peer.Direct {
			t.Fatalf("paths %v, %v", l.Path(), r.Path())
		}
		// The peer is seen at its NAT's public address.
		if ip := l.RemoteAddr().(*net.UDPAddr).IP; !ip.Equal(natbed.RightWAN) {
			t.Fatalf("left sees the right end at %v", l.RemoteAddr())
		}
		transfer(t, l, r, 8<<20)
	})
	t.Run("without low-TTL packets the same NATs defeat the punch", func(t *testing.T) {
		b, url := bed(t, nil)
		l, r := dialPair(t, url, "plain", endOptions(t, b.Left, peer.Options{PunchTTL: -1, PunchTimeout: 1500 * time.Millisecond}),
			endOptions(t, b.Right, peer.Options{PunchTTL: -1, PunchTimeout: 1500 * time.Millisecond}))
		if l.Path() != peer.Relay || r.Path() != peer.Relay {
			t.Fatalf("paths %v, %v: the plain punch worked, so the test bed no longer shows why the low-TTL packets are needed", l.Path(), r.Path())
		}
	})
	t.Run("a random-port NAT takes the relay", func(t *testing.T) {
		b, url := bed(t, &natbed.Options{Right: natbed.NAT{RandomPorts: true}})
		l, r := dialPair(t, url, "symmetric", endOptions(t, b.Left, peer.Options{PunchTimeout: 1500 * time.Millisecond}),
			endOptions(t, b.Right, peer.Options{PunchTimeout: 1500 * time.Millisecond}))
		if l.Path() != peer.Relay || r.Path() != peer.Relay {
			t.Fatalf("paths %v, %v", l.Path(), r.Path())
		}
		transfer(t, l, r, 1<<20)
	})
	t.Run("a peer that never comes is a clean timeout", func(t *testing.T) {
		b, url := bed(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := peer.Dial(ctx, url, "alone", keyed(endOptions(t, b.Left, peer.Options{})))
		if !errors.Is(err, peer.ErrNoPeer) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Dial returned %v after its deadline", d-time.Second)
		}
	})
	t.Run("a third party at the punched ports is refused", func(t *testing.T) {
		const lport, rport = 40001, 40002
		b, url := bed(t, &natbed.Options{Left: natbed.NAT{ForwardUDP: []int{lport}}, Right: natbed.NAT{ForwardUDP: []int{rport}}})
		certL, _ := peer.NewCertificate()
		certR, _ := peer.NewCertificate()
		// The right end is the QUIC server (the greater fingerprint); its
		// frames to the service are held back so that it listens a while
		// before the left end dials.
		if peer.Fingerprint(certR.Leaf) < peer.Fingerprint(certL.Leaf) {
			certL, certR = certR, certL
		}
		slow := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := b.Right.DialContext(ctx, network, addr)
			return &slowWriter{Conn: c, after: 2, delay: 700 * time.Millisecond}, err
		}}}
		stop := make(chan struct{})
		var refusals, silences int
		var attackErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			attackErr = b.Third.Do(func() error {
				sock, err := net.ListenUDP("udp4", nil)
				if err != nil {
					return err
				}
				tr := &quic.Transport{Conn: sock}
				defer tr.Close()
				stranger, _ := peer.NewCertificate()
				for {
					for _, target := range []*net.UDPAddr{{IP: natbed.LeftWAN, Port: lport}, {IP: natbed.RightWAN, Port: rport}} {
						select {
						case <-stop:
							return nil
						default:
						}
						_, _ = tr.WriteTo([]byte{0, 'm', 'p', '1', 'x'}, target)
						err := strangerHandshake(tr, target, stranger)
						var te *quic.TransportError
						switch {
						case errors.As(err, &te) && te.ErrorCode.IsCryptoError():
							refusals++
						case err == nil:
							return errors.New("a stranger's connection was accepted")
						default:
							silences++
						}
					}
				}
			})
		})
		l, r := dialPair(t, url, "guarded", endOptions(t, b.Left, peer.Options{Port: lport, Certificate: &certL}),
			endOptions(t, b.Right, peer.Options{Port: rport, Certificate: &certR, HTTPClient: slow}))
		close(stop)
		wg.Wait()
		if attackErr != nil {
			t.Fatal(attackErr)
		}
		if l.Path() != peer.Direct || l.PeerFingerprint() != peer.Fingerprint(certR.Leaf) || r.PeerFingerprint() != peer.Fingerprint(certL.Leaf) {
			t.Fatalf("path %v; left's peer %s, right's peer %s", l.Path(), l.PeerFingerprint(), r.PeerFingerprint())
		}
		transfer(t, l, r, 1<<20)
		t.Logf("the stranger's handshakes: %d refused by the pin, %d unanswered", refusals, silences)
		if refusals == 0 {
			t.Fatal("no handshake of the stranger reached the listening end and was refused")
		}
	})
}

// strangerHandshake tries a QUIC handshake with target and waits to see
// whether the other end keeps the connection.
func strangerHandshake(tr *quic.Transport, target *net.UDPAddr, cert tls.Certificate) error {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c, err := tr.Dial(ctx, target, strangerTLS(cert), &quic.Config{HandshakeIdleTimeout: 200 * time.Millisecond})
	if err != nil {
		return err
	}
	select {
	case <-c.Context().Done():
		return context.Cause(c.Context())
	case <-time.After(time.Second):
		c.CloseWithError(0, "")
		return nil
	}
}

// TestNATBedConcurrentPairs: 20 pairs dial at once through the same
// service and NATs; each end finds the peer whose key it expects.
func TestNATBedConcurrentPairs(t *testing.T) {
	b, url := bed(t, nil)
	const pairs = 20
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type end struct {
		cert tls.Certificate
		conn *peer.Conn
		err  error
	}
	ends := make([][2]end, pairs)
	var wg sync.WaitGroup
	for i := range pairs {
		for side, ns := range []*natbed.Namespace{b.Left, b.Right} {
			e := &ends[i][side]
			e.cert, _ = peer.NewCertificate()
			opts := keyed(endOptions(t, ns, peer.Options{Certificate: &e.cert}))
			wg.Go(func() { e.conn, e.err = peer.Dial(ctx, url, fmt.Sprintf("pair-%d", i), opts) })
		}
	}
	wg.Wait()
	direct := 0
	for i := range pairs {
		l, r := ends[i][0], ends[i][1]
		if l.err != nil || r.err != nil {
			t.Errorf("pair %d: %v / %v", i, l.err, r.err)
			continue
		}
		defer l.conn.Close()
		defer r.conn.Close()
		if l.conn.PeerFingerprint() != peer.Fingerprint(r.cert.Leaf) || r.conn.PeerFingerprint() != peer.Fingerprint(l.cert.Leaf) {
			t.Errorf("pair %d is linked to the wrong peer", i)
		}
		if l.conn.Path() == peer.Direct {
			direct++
		}
		transfer(t, l.conn, r.conn, 4<<10)
	}
	t.Logf("%d pairs linked to the right peer, %d of them directly", pairs, direct)
	if direct != pairs {
		t.Errorf("only %d of %d pairs took the direct path", direct, pairs)
	}
}

var p2pcatLast = regexp.MustCompile(`^path=(direct|relay) setup_ms=(\d+) bytes=(\d+) mbps=([\d.]+)$`)

// TestNATBedP2PCat runs the built p2pcat in the two private namespaces:
// 256 MiB on the direct path, and 16 MiB on the relay, each checked by
// SHA-256 on arrival. The relay is given less because every 24 KB of it is
// one Lambda invocation and two API Gateway messages: a fallback for when
// there is no other way, not a bulk path.
func TestNATBedP2PCat(t *testing.T) {
	for _, tc := range []struct {
		name string
		nat  *natbed.Options
		path string
		size int64
	}{
		{"direct", nil, "direct", 256 << 20},
		{"relay", &natbed.Options{Right: natbed.NAT{RandomPorts: true}}, "relay", 16 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := tc.size
			if testing.Short() {
				size = min(size, 16<<20)
			}
			b, url := bed(t, tc.nat)
			_, cat := build(t)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			sender := b.Left.Command(ctx, cat, "-url", url, "-api-key", testKey, "-name", "cat-"+tc.name, "-send", "-")
			receiver := b.Right.Command(ctx, cat, "-url", url, "-api-key", testKey, "-name", "cat-"+tc.name, "-recv", "-")
			var sendErr, recvErr bytes.Buffer
			sender.Stderr, receiver.Stderr = &sendErr, &recvErr
			stdin, err := sender.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := receiver.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := sender.Start(); err != nil {
				t.Fatal(err)
			}
			if err := receiver.Start(); err != nil {
				t.Fatal(err)
			}
			sent := sha256.New()
			go func() {
				w := bufio.NewWriterSize(stdin, 1<<20)
				_, _ = io.Copy(io.MultiWriter(w, sent), io.LimitReader(rand.NewChaCha8([32]byte{42}), size))
				_ = w.Flush()
				stdin.Close()
			}()
			got := sha256.New()
			n, _ := io.Copy(got, stdout)
			rerr, serr := receiver.Wait(), sender.Wait()
			if serr != nil || rerr != nil {
				t.Fatalf("sender: %v\n%s\nreceiver: %v\n%s", serr, sendErr.String(), rerr, recvErr.String())
			}
			if n != size || !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
				t.Fatalf("received %d bytes with SHA-256 %x; sent %d with %x", n, got.Sum(nil), size, sent.Sum(nil))
			}
			for _, e := range []*bytes.Buffer{&sendErr, &recvErr} {
				lines := strings.Split(strings.TrimSpace(e.String()), "\n")
				m := p2pcatLast.FindStringSubmatch(lines[len(lines)-1])
				if m == nil || m[1] != tc.path || m[3] != fmt.Sprint(size) {
					t.Fatalf("last stderr line %q", lines[len(lines)-1])
				}
			}
			t.Logf("%d MiB, SHA-256 %x checked on arrival; sender: %s; receiver: %s", size>>20, sent.Sum(nil),
				strings.TrimSpace(sendErr.String()), strings.TrimSpace(recvErr.String()))
		})
	}
}
