package peer

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// punchMagic starts every punch packet. Its first byte has QUIC's two top
// bits clear, so quic-go hands it to ReadNonQUICPacket instead of parsing
// it; the sender's key fingerprint (32 bytes) follows.
var punchMagic = []byte{0x00, 'm', 'p', '1'}

// punchInterval is how often each side sends a punch packet to every
// candidate address during the attempt.
const punchInterval = 50 * time.Millisecond

func punchPacket(fingerprint string) []byte {
	raw, _ := hex.DecodeString(fingerprint)
	return append(append([]byte{}, punchMagic...), raw...)
}

// prime opens this side's NAT mapping towards every candidate with packets
// whose TTL (hop limit) lets them leave through the sender's own NAT but
// expire before they reach the peer's. Sent plainly, the first packet of
// one side can reach the other NAT before that NAT has mapped its own
// host's flow; Linux conntrack then records it as an unreplied flow, and the
// host's own flow is moved to a random port when it clashes with it. Sent
// this way, both mappings exist before either side's packets arrive.
func prime(c *net.UDPConn, to []*net.UDPAddr, ttl int, packet []byte) error {
	if ttl <= 0 || len(to) == 0 {
		return nil
	}
	v4 := to[0].IP.To4() != nil
	var restore func() error
	if v4 {
		pc := ipv4.NewConn(c)
		old, err := pc.TTL()
		if err != nil {
			return err
		}
		if err := pc.SetTTL(ttl); err != nil {
			return err
		}
		restore = func() error { return pc.SetTTL(old) }
	} else {
		pc := ipv6.NewConn(c)
		old, err := pc.HopLimit()
		if err != nil {
			return err
		}
		if err := pc.SetHopLimit(ttl); err != nil {
			return err
		}
		restore = func() error { return pc.SetHopLimit(old) }
	}
	var werr error
	for range 3 {
		for _, a := range to {
			if _, err := c.WriteToUDP(packet, a); err != nil && werr == nil {
				werr = err
			}
		}
	}
	if err := restore(); err != nil {
		return err
	}
	return werr
}

// punch sends punch packets to every candidate, and to every address the
// peer's punch packets come from, until ctx ends. Packets from anyone but
// the peer's IP with the peer's fingerprint are ignored; a new address of
// the peer's goes to found.
func punch(ctx context.Context, tr *quic.Transport, peerIP net.IP, candidates []*net.UDPAddr, own, peer []byte, found chan<- *net.UDPAddr) {
	targets := append([]*net.UDPAddr{}, candidates...)
	known := func(a *net.UDPAddr) bool {
		for _, t := range targets {
			if t.IP.Equal(a.IP) && t.Port == a.Port {
				return true
			}
		}
		return false
	}
	learned := make(chan *net.UDPAddr, 8)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := tr.ReadNonQUICPacket(ctx, buf)
			if err != nil {
				return
			}
			a, ok := from.(*net.UDPAddr)
			if !ok || !a.IP.Equal(peerIP) || !bytes.Equal(buf[:n], peer) {
				continue
			}
			select {
			case learned <- a:
			default:
			}
		}
	}()
	tick := time.NewTicker(punchInterval)
	defer tick.Stop()
	for {
		for _, a := range targets {
			_, _ = tr.WriteTo(own, a)
		}
		select {
		case <-ctx.Done():
			return
		case a := <-learned:
			if !known(a) {
				targets = append(targets, a)
				select {
				case found <- a:
				default:
				}
			}
		case <-tick.C:
		}
	}
}

// dialDirect is the QUIC client's direct attempt: it dials every candidate
// and every address the punch learns, and returns the first connection
// whose handshake (and so the pin) succeeds, or an error when ctx ends.
func dialDirect(ctx context.Context, l *link, tr *quic.Transport) (*quic.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	found := make(chan *net.UDPAddr, 8)
	go punch(ctx, tr, l.peerIP, l.candidates, l.punchOwn, l.punchPeer, found)
	type result struct {
		c   *quic.Conn
		err error
	}
	results := make(chan result)
	pending := 0
	dial := func(a *net.UDPAddr) {
		pending++
		go func() {
			c, err := tr.Dial(ctx, a, l.clientTLS, l.quicConfig(l.o.punchTimeout()))
			select {
			case results <- result{c, err}:
			case <-ctx.Done():
				if c != nil {
					_ = c.CloseWithError(0, "another path won")
				}
			}
		}()
	}
	for _, a := range l.candidates {
		dial(a)
	}
	var errs []error
	for {
		select {
		case a := <-found:
			dial(a)
		case r := <-results:
			pending--
			if r.err == nil {
				return r.c, nil
			}
			errs = append(errs, r.err)
			if pending == 0 && ctx.Err() != nil {
				return nil, errors.Join(errs...)
			}
		case <-ctx.Done():
			if len(errs) == 0 {
				errs = append(errs, context.Cause(ctx))
			}
			return nil, errors.Join(errs...)
		}
	}
}

// acceptDirect is the QUIC server's side of the attempt: it punches
// towards the peer and accepts the first connection that presents the
// pinned key, until the client announces the relay or ctx ends. A third
// party's handshake fails on the pin and never reaches Accept.
func acceptDirect(ctx context.Context, l *link, tr *quic.Transport, ln *quic.Listener) (*quic.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go punch(ctx, tr, l.peerIP, l.candidates, l.punchOwn, l.punchPeer, make(chan *net.UDPAddr, 8))
	relay := make(chan error, 1)
	s := l.s // the caller lets go of l.s once a direct link is up
	go func() {
		_, err := s.waitControl(ctx, kindUseRelay)
		if err == nil {
			err = errUseRelay
		}
		relay <- err
		cancel()
	}()
	c, err := ln.Accept(ctx)
	if err == nil {
		return c, nil
	}
	select {
	case rerr := <-relay:
		return nil, rerr
	default:
		return nil, err
	}
}

var errUseRelay = errors.New("peer: the direct attempt failed; the peer takes the relay")
