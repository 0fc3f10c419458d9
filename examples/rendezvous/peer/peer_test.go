package peer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/quic-go/quic-go"

	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/examples/rendezvous/peer"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/mullettest"
)

// testKey is the API key the tests' clients send: the rendezvous service
// requires one on $connect.
const testKey = "peer-test-key-0000000001"

var testKeys = []emulator.APIKey{{Name: "peer-tests", Value: testKey, Plan: "paid"}}

// keyed returns o (nil: defaults) with an Upgrade that sends testKey, unless
// o has its own.
func keyed(o *peer.Options) *peer.Options {
	var c peer.Options
	if o != nil {
		c = *o
	}
	if c.Upgrade == nil {
		c.Upgrade = peer.APIKey(testKey)
	}
	return &c
}

// dialPair dials both ends of pairing name at once and returns them, left
// first.
func dialPair(t testing.TB, url, name string, left, right *peer.Options) (*peer.Conn, *peer.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		wg         sync.WaitGroup
		a, b       *peer.Conn
		aErr, bErr error
	)
	left, right = keyed(left), keyed(right)
	wg.Go(func() { a, aErr = peer.Dial(ctx, url, name, left) })
	wg.Go(func() { b, bErr = peer.Dial(ctx, url, name, right) })
	wg.Wait()
	if aErr != nil || bErr != nil {
		t.Fatalf("dial: %v / %v", aErr, bErr)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// transfer sends n pseudo-random bytes from a to b on one stream and checks
// their SHA-256 on arrival; b confirms with the digest before a returns.
func transfer(t testing.TB, a, b *peer.Conn, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errc := make(chan error, 1)
	var got [sha256.Size]byte
	go func() {
		s, err := b.AcceptStream(ctx)
		if err != nil {
			errc <- err
			return
		}
		h := sha256.New()
		if _, err := io.Copy(h, s); err != nil {
			errc <- err
			return
		}
		copy(got[:], h.Sum(nil))
		_, err = s.Write(got[:])
		s.Close()
		errc <- err
	}()
	s, err := a.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{1}), n), h)
	if _, err := io.Copy(s, src); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ack, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if want := h.Sum(nil); !bytes.Equal(ack, want) || !bytes.Equal(got[:], want) {
		t.Fatalf("SHA-256 mismatch: sent %x, received %x, acknowledged %x", want, got, ack)
	}
}

func TestLoopbackDirect(t *testing.T) {
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys})
	a, b := dialPair(t, srv.URL, "loop", nil, nil)
	if a.Path() != peer.Direct || b.Path() != peer.Direct {
		t.Fatalf("paths %v, %v", a.Path(), b.Path())
	}
	if a.PeerFingerprint() != b.Fingerprint() || b.PeerFingerprint() != a.Fingerprint() {
		t.Fatal("fingerprints do not cross")
	}
	transfer(t, a, b, 4<<20)
	transfer(t, b, a, 1<<20)
}

func TestLoopbackRelay(t *testing.T) {
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys})
	a, b := dialPair(t, srv.URL, "relayed", &peer.Options{Paths: peer.RelayOnly}, nil)
	if a.Path() != peer.Relay || b.Path() != peer.Relay {
		t.Fatalf("paths %v, %v", a.Path(), b.Path())
	}
	start := time.Now()
	const n = 8 << 20
	transfer(t, a, b, n)
	frames, bytes := a.RelayFrames()
	t.Logf("relay: %d MiB in %v; sender sent %d frames, %d bytes", n>>20, time.Since(start), frames, bytes)
}

func TestNoPeer(t *testing.T) {
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := peer.Dial(ctx, srv.URL, "alone", keyed(nil))
	if !errors.Is(err, peer.ErrNoPeer) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrNoPeer and DeadlineExceeded", err)
	}
}

// TestOriginalClientPeer: a peer that pairs the original way learns our
// address, exactly as before; Dial reports that nothing more can be done.
func TestOriginalClientPeer(t *testing.T) {
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys})
	// The original client sent its tenant's key as x-api-key.
	old := srv.Dial(t, &mullettest.DialOptions{Header: http.Header{"X-Api-Key": {testKey}}})
	old.Send(t, `{"action":"pair","pairing_name":"mixed"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := peer.Dial(ctx, srv.URL, "mixed", keyed(nil))
	if !errors.Is(err, peer.ErrPeerIncompatible) {
		t.Fatalf("got %v", err)
	}
	if f := old.Read(t); f != `{"SourceIP":"127.0.0.1"}` {
		t.Fatalf("the original client got %s", f)
	}
}

func TestServiceError(t *testing.T) {
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := peer.Dial(ctx, srv.URL, "has space", keyed(nil))
	var se *peer.ServiceError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "Invalid request body") {
		t.Fatalf("got %v", err)
	}
}

// TestThirdPartyOnLoopback: a stranger that knows the punched port and
// tries a QUIC handshake with its own key is refused by the pin.
func TestPinRejectsStranger(t *testing.T) {
	srv := mullettest.NewServer(t, app.New(2), &mullettest.Options{APIKeys: testKeys})
	certA, _ := peer.NewCertificate()
	certB, _ := peer.NewCertificate()
	// Make sure the stranger reaches the QUIC server: the end whose
	// fingerprint is greater.
	if peer.Fingerprint(certA.Leaf) < peer.Fingerprint(certB.Leaf) {
		certA, certB = certB, certA
	}
	serverSock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	target := serverSock.LocalAddr().(*net.UDPAddr)
	stop := make(chan struct{})
	refused := make(chan error, 100)
	go func() {
		stranger, _ := peer.NewCertificate()
		tr := &quic.Transport{Conn: must(net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}))}
		defer tr.Close()
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			c, err := tr.Dial(ctx, target, strangerTLS(stranger), &quic.Config{HandshakeIdleTimeout: 300 * time.Millisecond})
			cancel()
			if err == nil {
				// In TLS 1.3 the client finishes before the server has
				// checked the client's certificate: the refusal comes as
				// the connection's closing.
				select {
				case <-c.Context().Done():
					err = context.Cause(c.Context())
				case <-time.After(2 * time.Second):
					c.CloseWithError(0, "")
					refused <- errors.New("the stranger's connection was accepted")
					return
				}
			}
			select {
			case refused <- err:
			default:
			}
			_, _ = tr.WriteTo([]byte("junk"), target)
		}
	}()
	// The server end's frames to the service after the pair frame are held
	// back, so that it listens a while before its peer dials.
	slow := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return &slowWriter{Conn: c, after: 2, delay: 700 * time.Millisecond}, err
	}}}
	a, b := dialPair(t, srv.URL, "pinned", &peer.Options{Certificate: &certA, UDPConn: serverSock, HTTPClient: slow}, &peer.Options{Certificate: &certB})
	close(stop)
	if a.Path() != peer.Direct || a.PeerFingerprint() != peer.Fingerprint(certB.Leaf) {
		t.Fatalf("path %v, peer %s", a.Path(), a.PeerFingerprint())
	}
	transfer(t, b, a, 64<<10)
	var crypto int
	for len(refused) > 0 {
		err := <-refused
		var te *quic.TransportError
		if errors.As(err, &te) && te.ErrorCode.IsCryptoError() {
			crypto++
		} else if err != nil && strings.Contains(err.Error(), "accepted") {
			t.Fatal(err)
		}
	}
	if crypto == 0 {
		t.Fatal("the stranger's handshakes were never refused by TLS")
	}
	t.Logf("%d handshakes of a stranger refused by the pin", crypto)
}

func TestUpgradeHooks(t *testing.T) {
	got := make(chan *http.Request, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/prod"
	for _, tc := range []struct {
		name  string
		hook  func(context.Context, *http.Request) error
		check func(*http.Request) bool
	}{
		{"api key", peer.APIKey("k123"), func(r *http.Request) bool { return r.Header.Get("x-api-key") == "k123" }},
		{"sigv4", peer.SignV4(credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), "us-east-1"), func(r *http.Request) bool {
			q := r.URL.Query()
			return q.Get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" && strings.HasPrefix(q.Get("X-Amz-Credential"), "AKID/") &&
				strings.Contains(q.Get("X-Amz-Credential"), "/us-east-1/execute-api/") && q.Get("X-Amz-Signature") != ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := peer.Dial(ctx, url, "x", &peer.Options{Upgrade: tc.hook}); err == nil {
				t.Fatal("dial succeeded against a server that refuses")
			}
			if r := <-got; !tc.check(r) {
				t.Fatalf("upgrade request %s %v lacks the hook's change", r.URL, r.Header)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// slowWriter delays every write after the first few.
type slowWriter struct {
	net.Conn
	after  int
	delay  time.Duration
	writes int
}

func (w *slowWriter) Write(p []byte) (int, error) {
	if w.writes++; w.writes > w.after {
		time.Sleep(w.delay)
	}
	return w.Conn.Write(p)
}
