package peer_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/mulletgo/mullet/cost"
	"github.com/mulletgo/mullet/examples/rendezvous/peer"
	"github.com/mulletgo/mullet/examples/rendezvous/peer/internal/natbed"
)

// BenchmarkNATBedSetup measures, over 50 pairings through port-preserving
// NATs, the time from both ends calling Dial to the first byte of a stream
// arriving, and reports its p50 and p99.
//
//	go test -run '^$' -bench NATBedSetup -benchtime 1x ./examples/rendezvous/peer
func BenchmarkNATBedSetup(b *testing.B) {
	bed, url := bed(b, nil)
	const pairings = 50
	for b.Loop() {
		var times []time.Duration
		for i := range pairings {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			lo, ro := endOptions(b, bed.Left, peer.Options{}), endOptions(b, bed.Right, peer.Options{})
			start := time.Now()
			var (
				wg     sync.WaitGroup
				l, r   *peer.Conn
				le, re error
				first  time.Duration
			)
			name := fmt.Sprintf("setup-%d-%d", i, time.Now().UnixNano())
			wg.Go(func() {
				if l, le = peer.Dial(ctx, url, name, keyed(lo)); le == nil {
					var s *peer.Stream
					if s, le = l.OpenStream(ctx); le == nil {
						_, le = s.Write([]byte{1})
					}
				}
			})
			wg.Go(func() {
				if r, re = peer.Dial(ctx, url, name, keyed(ro)); re == nil {
					var s *peer.Stream
					if s, re = r.AcceptStream(ctx); re == nil {
						_, re = io.ReadFull(s, make([]byte, 1))
						first = time.Since(start)
					}
				}
			})
			wg.Wait()
			cancel()
			if le != nil || re != nil {
				b.Fatalf("pairing %d: %v / %v", i, le, re)
			}
			if l.Path() != peer.Direct {
				b.Fatalf("pairing %d took the %v path", i, l.Path())
			}
			l.Close()
			r.Close()
			times = append(times, first)
		}
		slices.Sort(times)
		p := func(q float64) time.Duration { return times[int(math.Ceil(q*float64(len(times))))-1] }
		b.ReportMetric(float64(p(0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99-ms")
	}
}

// benchBytes is what one iteration of the throughput benchmarks moves.
const benchBytes = 64 << 20

// BenchmarkNATBedThroughput moves 64 MiB per iteration from the left host
// to the right host: over a direct peer link through both NATs; over
// quic-go with the same configuration between the hosts' private addresses
// (the same links and hops, without NAT: the transport's own ceiling); and
// over plain TCP on that same route (the machine's ceiling).
//
//	go test -run '^$' -bench NATBedThroughput -benchtime 5x ./examples/rendezvous/peer
func BenchmarkNATBedThroughput(b *testing.B) {
	bed, url := bed(b, nil)
	b.Run("peer-direct", func(b *testing.B) {
		l, r := dialPair(b, url, fmt.Sprint("throughput-", time.Now().UnixNano()), endOptions(b, bed.Left, peer.Options{}), endOptions(b, bed.Right, peer.Options{}))
		if l.Path() != peer.Direct {
			b.Fatalf("path %v", l.Path())
		}
		benchStreams(b, func(ctx context.Context) (io.WriteCloser, error) { return l.OpenStream(ctx) },
			func(ctx context.Context) (io.Reader, error) { return r.AcceptStream(ctx) })
	})
	b.Run("quic-go-without-NAT", func(b *testing.B) {
		certL, _ := peer.NewCertificate()
		certR, _ := peer.NewCertificate()
		ls, err := bed.Left.ListenUDP(0)
		if err != nil {
			b.Fatal(err)
		}
		rs, err := bed.Right.ListenUDP(0)
		if err != nil {
			b.Fatal(err)
		}
		lt, rt := &quic.Transport{Conn: ls}, &quic.Transport{Conn: rs}
		defer lt.Close()
		defer rt.Close()
		conf := &quic.Config{MaxIdleTimeout: 60 * time.Second, KeepAlivePeriod: 15 * time.Second, MaxIncomingStreams: 1000}
		ln, err := rt.Listen(&tls.Config{Certificates: []tls.Certificate{certR}, ClientAuth: tls.RequireAnyClientCert, NextProtos: []string{"bench"}}, conf)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		lc, err := lt.Dial(ctx, &net.UDPAddr{IP: natbed.RightIP, Port: rs.LocalAddr().(*net.UDPAddr).Port},
			&tls.Config{Certificates: []tls.Certificate{certL}, InsecureSkipVerify: true, NextProtos: []string{"bench"}}, conf)
		if err != nil {
			b.Fatal(err)
		}
		rc, err := ln.Accept(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer lc.CloseWithError(0, "")
		defer rc.CloseWithError(0, "")
		benchStreams(b, func(ctx context.Context) (io.WriteCloser, error) { return lc.OpenStreamSync(ctx) },
			func(ctx context.Context) (io.Reader, error) { return rc.AcceptStream(ctx) })
	})
	b.Run("tcp-without-NAT", func(b *testing.B) {
		ln, err := bed.Right.Listen("10.2.0.2:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		benchStreams(b, func(ctx context.Context) (io.WriteCloser, error) {
			return bed.Left.DialContext(ctx, "tcp", ln.Addr().String())
		}, func(context.Context) (io.Reader, error) { return ln.Accept() })
	})
}

// benchStreams moves benchBytes per iteration on a new stream.
func benchStreams(b *testing.B, open func(context.Context) (io.WriteCloser, error), accept func(context.Context) (io.Reader, error)) {
	b.SetBytes(benchBytes)
	buf := make([]byte, 64<<10)
	ctx := context.Background()
	for b.Loop() {
		done := make(chan error, 1)
		go func() {
			s, err := accept(ctx)
			if err == nil {
				var n int64
				n, err = io.Copy(io.Discard, s)
				if err == nil && n != benchBytes {
					err = fmt.Errorf("received %d bytes", n)
				}
				if c, ok := s.(io.Closer); ok {
					c.Close()
				}
			}
			done <- err
		}()
		w, err := open(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for sent := 0; sent < benchBytes; sent += len(buf) {
			if _, err := w.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		w.Close()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNATBedRelayCost moves 8 MiB per iteration over the relay and
// reports the frames that went through the service per MiB (each way), and
// what a MiB costs at mullet cost's prices: every frame is one API Gateway
// message in, one Lambda invocation and one message out.
//
//	go test -run '^$' -bench NATBedRelayCost -benchtime 2x ./examples/rendezvous/peer
func BenchmarkNATBedRelayCost(b *testing.B) {
	bed, url := bed(b, nil)
	l, r := dialPair(b, url, fmt.Sprint("relay-cost-", time.Now().UnixNano()), endOptions(b, bed.Left, peer.Options{Paths: peer.RelayOnly}), endOptions(b, bed.Right, peer.Options{Paths: peer.RelayOnly}))
	const size = 8 << 20
	b.SetBytes(size)
	buf := make([]byte, 64<<10)
	ctx := context.Background()
	l0, _ := l.RelayFrames()
	r0, _ := r.RelayFrames()
	for b.Loop() {
		done := make(chan error, 1)
		go func() {
			s, err := r.AcceptStream(ctx)
			if err == nil {
				_, err = io.Copy(io.Discard, s)
				s.Close()
			}
			done <- err
		}()
		s, err := l.OpenStream(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for sent := 0; sent < size; sent += len(buf) {
			if _, err := s.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	l1, _ := l.RelayFrames()
	r1, _ := r.RelayFrames()
	mib := float64(b.N) * size / (1 << 20)
	framesPerMiB := float64(l1-l0+r1-r0) / mib
	prices := cost.ListPrices()
	// A relay frame (under 32 KB) is one message in, one invocation of
	// about 10 ms (one @connections call) at 256 MB, and one message out.
	perFrame := cost.Usage{Messages: 2, Invocations: 1, GBSeconds: 0.011 * 256 / 1024}
	usd := prices.Price(perFrame.Scale(framesPerMiB)).Total()
	b.ReportMetric(float64(l1-l0)/mib, "data-frames/MiB")
	b.ReportMetric(float64(r1-r0)/mib, "ack-frames/MiB")
	b.ReportMetric(usd, "USD/MiB")
}
