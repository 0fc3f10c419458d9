package peer

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// relayAddr is the peer's address on the relay path: its connection ID.
type relayAddr string

func (a relayAddr) Network() string { return "mullet-relay" }
func (a relayAddr) String() string  { return string(a) }

// maxRelayQueue bounds the packets waiting to be relayed, and
// relayInbound the packets received and not yet read: beyond them packets
// are dropped, as a router drops them, and QUIC's congestion control slows
// down.
const (
	// relayLinger is how long a batch under half a frame waits for more
	// packets before it is sent.
	relayLinger   = 2 * time.Millisecond
	maxRelayQueue = 1 << 20
	relayInbound  = 4096
)

// relayConn is a net.PacketConn whose packets travel through the
// rendezvous service's relay route: QUIC runs over it unchanged, and
// brings the reliability, ordering and congestion control that the path
// through API Gateway and concurrent Lambda invocations lacks.
//
// Writes are batched: while one frame is being written, the packets
// written meanwhile gather into the next frame (up to maxRelayFrame), so a
// busy link sends few, full frames and an idle one adds no delay.
type relayConn struct {
	s    *session
	peer relayAddr
	in   chan []byte

	mu   sync.Mutex
	out  []byte // queued packets, length-prefixed
	kick chan struct{}

	closeOnce sync.Once
	closed    chan struct{}
	deadline  deadline

	// Frames and Bytes count what went out through the service.
	frames, bytes atomic.Int64
}

func newRelayConn() *relayConn {
	return &relayConn{
		in:     make(chan []byte, relayInbound),
		kick:   make(chan struct{}, 1),
		closed: make(chan struct{}),
	}
}

// start begins sending through s to peer.
func (r *relayConn) start(s *session, peer string) {
	r.s, r.peer = s, relayAddr(peer)
	go r.flush()
}

// deliver takes a batch of length-prefixed packets from the service.
func (r *relayConn) deliver(batch []byte) {
	for len(batch) >= 2 {
		n := int(binary.BigEndian.Uint16(batch))
		if len(batch) < 2+n {
			return
		}
		p := make([]byte, n)
		copy(p, batch[2:2+n])
		batch = batch[2+n:]
		select {
		case r.in <- p:
		default: // full: dropped
		}
	}
}

func (r *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case b := <-r.in:
		return copy(p, b), r.peer, nil
	case <-r.closed:
		return 0, nil, net.ErrClosed
	case <-r.deadline.wait():
		return 0, nil, os.ErrDeadlineExceeded
	}
}

func (r *relayConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	select {
	case <-r.closed:
		return 0, net.ErrClosed
	default:
	}
	if len(p) > 0xffff {
		return 0, &net.OpError{Op: "write", Net: "mullet-relay", Err: os.ErrInvalid}
	}
	r.mu.Lock()
	if len(r.out)+2+len(p) <= maxRelayQueue {
		r.out = binary.BigEndian.AppendUint16(r.out, uint16(len(p)))
		r.out = append(r.out, p...)
	}
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// flush writes the queued packets to the service, a frame at a time.
func (r *relayConn) flush() {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-r.closed
		cancel()
	}()
	frame := make([]byte, 0, maxRelayFrame+1)
	for {
		select {
		case <-r.kick:
		case <-r.closed:
			return
		}
		// A frame costs the same whether full or not: give a small batch
		// a moment to grow. Against the relay's round trip through
		// API Gateway and Lambda (tens of milliseconds) this is noise.
		r.mu.Lock()
		small := len(r.out) < maxRelayFrame/2
		r.mu.Unlock()
		if small {
			select {
			case <-time.After(relayLinger):
			case <-r.closed:
				return
			}
		}
		for {
			r.mu.Lock()
			cut := 0
			for cut < len(r.out) {
				n := 2 + int(binary.BigEndian.Uint16(r.out[cut:]))
				if cut+n > maxRelayFrame && cut > 0 {
					break
				}
				cut += n
			}
			frame = append(append(frame[:0], kindPackets), r.out[:cut]...)
			r.out = append(r.out[:0], r.out[cut:]...)
			r.mu.Unlock()
			if cut == 0 {
				break
			}
			if err := r.s.send(ctx, frame); err != nil {
				r.Close()
				return
			}
			r.frames.Add(1)
			r.bytes.Add(int64(len(frame)))
		}
	}
}

func (r *relayConn) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	return nil
}

func (r *relayConn) LocalAddr() net.Addr { return relayAddr("local") }

func (r *relayConn) SetDeadline(t time.Time) error     { return r.SetReadDeadline(t) }
func (r *relayConn) SetReadDeadline(t time.Time) error { r.deadline.set(t); return nil }
func (r *relayConn) SetWriteDeadline(time.Time) error  { return nil }

// SetReadBuffer and SetWriteBuffer tell quic-go that there is no socket
// buffer to size.
func (r *relayConn) SetReadBuffer(int) error  { return nil }
func (r *relayConn) SetWriteBuffer(int) error { return nil }

// deadline is a read deadline as a channel that is closed when it passes.
type deadline struct {
	mu    sync.Mutex
	c     chan struct{}
	timer *time.Timer
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		d.c = make(chan struct{})
	}
	return d.c
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.c == nil {
		d.c = make(chan struct{})
	}
	select {
	case <-d.c: // passed: a new deadline starts open
		d.c = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	c := d.c
	expire := func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.c == c {
			select {
			case <-c:
			default:
				close(c)
			}
		}
	}
	if dur := time.Until(t); dur > 0 {
		d.timer = time.AfterFunc(dur, expire)
		return
	}
	close(c)
}
