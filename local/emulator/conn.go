package emulator

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/gobwas/ws"
)

// errGone reports a write to a connection that is closing or closed.
var errGone = errors.New("emulator: connection is gone")

// errSendBufferFull reports a message refused because the connection's
// send buffer holds Options.SendBufferSize bytes the client has not read
// yet: @connections answers 429 LimitExceededException.
var errSendBufferFull = errors.New("emulator: the client's send buffer is full")

// conn is one established WebSocket connection.
//
// One goroutine, serve, reads the socket; it is the only one that reads and
// the only one that ends the connection (finish), so $disconnect fires
// exactly once. Writes come from message invocations, @connections calls and
// the read loop (pongs, close frames). Each encodes its frames into the send
// buffer (out) under wmu and returns; one goroutine, writeLoop, writes the
// buffer to the socket. No caller ever waits for the client to read: a
// full buffer refuses the message (errSendBufferFull) instead, so a client
// that stops reading slows no one else.
type conn struct {
	e           *Emulator
	id          string
	sourceIP    string
	userAgent   string
	domainName  string
	connectedAt time.Time // on the emulator's clock (Options.Now)
	start       time.Time // on the real clock, for MaxDuration

	nc net.Conn
	br *bufio.Reader

	lastActive atomic.Int64 // UnixNano, on the emulator's clock, of the last client frame
	lastSent   atomic.Int64 // real-clock UnixNano of the last data frame sent: it resets the idle timer too
	closing    atomic.Bool  // a close frame was sent or the socket is gone
	closeBy    atomic.Int64 // real-clock UnixNano deadline of the closing handshake

	ctl [maxControlPayload]byte // control frame payloads; read loop only

	wmu       sync.Mutex
	out       []byte        // encoded frames the writer has yet to write
	wake      chan struct{} // capacity 1: out has data
	done      chan struct{} // closed by finish: the writer flushes what is left and stops
	stopped   chan struct{} // closed by the writer when it stops
	hdr       [maxHeaderSize]byte
	closeSent bool // no more frames may be written
	code      int  // the cause of the disconnect, first one wins
	reason    string
	causeSet  bool
}

// readState is the read loop's message reassembly state.
type readState struct {
	msg   []byte
	inMsg bool
}

// serve reads frames until the connection ends, then fires $disconnect.
func (c *conn) serve() {
	defer c.finish()
	var st readState
	maxEnd := c.start.Add(c.e.maxDuration)
	idleFrom := time.Now() // the end of the last client frame
	for {
		c.setReadDeadline(maxEnd, idleFrom)
		h, err := readHeader(c.br)
		if err != nil {
			switch {
			case c.closing.Load():
				return
			case errors.Is(err, errBadLength):
				c.initiateClose(closeProtocolError, "Invalid frame length")
				return
			case isTimeout(err):
				if c.idleSince(idleFrom).Add(c.e.idle).After(time.Now()) && time.Now().Before(maxEnd) {
					// A frame sent to the client since the deadline was
					// set reset the idle timer.
					continue
				}
				// Idle timeout or maximum duration; the reader is at a frame
				// boundary, so wait for the client's close frame.
				c.initiateClose(closeGoingAway, reasonGoingAway)
				continue
			default:
				c.setCause(closeAbnormal, "")
				return
			}
		}
		c.lastActive.Store(c.e.now().UnixNano())
		var stop bool
		if c.closing.Load() {
			stop = c.drainFrame(h)
		} else {
			stop = c.frame(h, &st)
		}
		if stop {
			return
		}
		idleFrom = time.Now()
	}
}

// idleSince returns when the connection last saw a frame either way: the
// end of the last client frame (from) or the last frame sent to the client.
// API Gateway's idle timer counts both: a client that only receives a push
// every 9.5 minutes stays connected.
func (c *conn) idleSince(from time.Time) time.Time {
	if sent := time.Unix(0, c.lastSent.Load()); sent.After(from) {
		return sent
	}
	return from
}

// setReadDeadline sets the deadline of the next read: the idle timeout
// (counted from the last frame either way, see idleSince), the maximum
// duration or, once closing, the end of the closing handshake, whichever
// comes first.
func (c *conn) setReadDeadline(maxEnd, idleFrom time.Time) {
	d := c.idleSince(idleFrom).Add(c.e.idle)
	if maxEnd.Before(d) {
		d = maxEnd
	}
	if c.closing.Load() {
		if by := time.Unix(0, c.closeBy.Load()); by.Before(d) {
			d = by
		}
	}
	_ = c.nc.SetReadDeadline(d)
	// initiateClose may have set the shorter deadline between the check
	// above and SetReadDeadline; it stores closing before setting the
	// deadline, so checking again here cannot miss it.
	if c.closing.Load() {
		if by := time.Unix(0, c.closeBy.Load()); by.Before(d) {
			_ = c.nc.SetReadDeadline(by)
		}
	}
}

// frame handles one frame of an open connection. It reports whether the
// read loop must stop.
func (c *conn) frame(h header, st *readState) (stop bool) {
	if h.rsv != 0 {
		c.initiateClose(closeProtocolError, "Reserved bits set")
		return true
	}
	if !h.masked {
		c.initiateClose(closeProtocolError, "Client frames must be masked")
		return true
	}
	if h.op.IsControl() {
		return c.control(h)
	}
	switch h.op {
	case ws.OpContinuation:
		if !st.inMsg {
			c.initiateClose(closeProtocolError, "Unexpected continuation frame")
			return true
		}
	case ws.OpText, ws.OpBinary:
		if st.inMsg {
			c.initiateClose(closeProtocolError, "Expected continuation frame")
			return true
		}
	default:
		c.initiateClose(closeProtocolError, "Reserved opcode")
		return true
	}
	switch {
	case h.op == ws.OpBinary:
		// API Gateway rejects binary frames and disconnects with 1003.
		return c.failGraceful(closeUnsupported, reasonUnsupported, h.length)
	case h.length > int64(c.e.maxFrame), int64(len(st.msg))+h.length > int64(c.e.maxMessage):
		st.msg = nil
		return c.failGraceful(closeTooBig, reasonTooBig, h.length)
	}
	n := len(st.msg)
	st.msg = slices.Grow(st.msg, int(h.length))[:n+int(h.length)]
	if _, err := io.ReadFull(c.br, st.msg[n:]); err != nil {
		c.payloadError(err)
		return true
	}
	ws.Cipher(st.msg[n:], h.mask, 0)
	if !h.fin {
		st.inMsg = true
		return false
	}
	msg := st.msg
	*st = readState{}
	if !utf8.Valid(msg) {
		c.initiateClose(closeInvalidPayload, "Invalid UTF-8 in text message")
		return true
	}
	c.dispatch(msg)
	return false
}

// control handles a control frame of an open connection.
func (c *conn) control(h header) (stop bool) {
	if !h.fin || h.length > maxControlPayload {
		c.initiateClose(closeProtocolError, "Invalid control frame")
		return true
	}
	p := c.ctl[:h.length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.payloadError(err)
		return true
	}
	ws.Cipher(p, h.mask, 0)
	switch h.op {
	case ws.OpPing:
		_ = c.writeControl(ws.OpPong, p)
		return false
	case ws.OpPong:
		return false
	case ws.OpClose:
		c.closeFromClient(p)
		return true
	default:
		c.initiateClose(closeProtocolError, "Reserved opcode")
		return true
	}
}

// drainFrame handles a frame that arrives after the emulator sent its close
// frame: data is discarded, and the client's close frame ends the
// connection.
func (c *conn) drainFrame(h header) (stop bool) {
	if _, err := c.br.Discard(int(min(h.length, math.MaxInt32))); err != nil {
		return true
	}
	return h.op == ws.OpClose
}

// failGraceful closes the connection with code after a frame the client
// may not send, skipping the rest of that frame so that the client's close
// frame can still be read.
func (c *conn) failGraceful(code int, reason string, remaining int64) (stop bool) {
	c.initiateClose(code, reason)
	if _, err := c.br.Discard(int(min(remaining, math.MaxInt32))); err != nil {
		return true
	}
	return false
}

// payloadError handles a read error in the middle of a frame.
func (c *conn) payloadError(err error) {
	if isTimeout(err) && !c.closing.Load() {
		// The client stalled inside a frame until the idle timeout or the
		// maximum duration: say so, but do not wait for an answer.
		c.initiateClose(closeGoingAway, reasonGoingAway)
		return
	}
	c.setCause(closeAbnormal, "")
}

// closeFromClient answers the client's close frame with payload p.
func (c *conn) closeFromClient(p []byte) {
	code, reason := closeNoStatus, reasonNoStatus
	switch {
	case len(p) == 1:
		c.initiateClose(closeProtocolError, "Invalid close frame")
		return
	case len(p) >= 2:
		code, reason = int(binary.BigEndian.Uint16(p)), string(p[2:])
		if !validCloseCode(code) || !utf8.ValidString(reason) {
			c.initiateClose(closeProtocolError, "Invalid close frame")
			return
		}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.setCauseLocked(code, reason)
	if c.closeSent {
		return
	}
	c.closeSent = true
	c.closing.Store(true)
	// Echo the status code (RFC 6455 section 5.5.1), without the reason.
	if len(p) > 2 {
		p = p[:2]
	}
	_ = c.writeFrameLocked(ws.OpClose, p)
}

// validCloseCode reports whether a client may send code in a close frame.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}

// initiateClose sends a close frame with code and reason and records them
// as the cause of the disconnect. The read loop then waits up to
// closeTimeout for the client's close frame. It reports false if the
// connection was already closing.
func (c *conn) initiateClose(code int, reason string) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return false
	}
	c.setCauseLocked(code, reason)
	c.closeSent = true
	c.closeBy.Store(time.Now().Add(closeTimeout).UnixNano())
	c.closing.Store(true)
	var p [maxControlPayload]byte
	binary.BigEndian.PutUint16(p[:2], uint16(code))
	n := 2 + copy(p[2:], reason)
	_ = c.writeFrameLocked(ws.OpClose, p[:n])
	// Wake the read loop so that it waits for the closing handshake only.
	_ = c.nc.SetReadDeadline(time.Unix(0, c.closeBy.Load()))
	return true
}

// abort closes the socket without a closing handshake.
func (c *conn) abort() {
	c.setCause(closeAbnormal, "")
	_ = c.nc.Close()
}

func (c *conn) setCause(code int, reason string) {
	c.wmu.Lock()
	c.setCauseLocked(code, reason)
	c.wmu.Unlock()
}

func (c *conn) setCauseLocked(code int, reason string) {
	if !c.causeSet {
		c.code, c.reason, c.causeSet = code, reason, true
	}
}

// finish ends the connection: it closes the socket, forgets the ID and
// fires $disconnect. Only serve calls it, once.
func (c *conn) finish() {
	c.wmu.Lock()
	c.closeSent = true
	c.closing.Store(true)
	c.setCauseLocked(closeAbnormal, "")
	code, reason := c.code, c.reason
	c.wmu.Unlock()
	close(c.done)
	t := time.NewTimer(finalFlush)
	select {
	case <-c.stopped:
	case <-t.C: // the client does not read; closing the socket stops the writer
	}
	t.Stop()
	_ = c.nc.Close()
	c.e.unregister(c)
	e := c.e
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.LogAttrs(context.Background(), slog.LevelDebug, "emulator: disconnected",
			slog.String("connectionId", c.id), slog.Int("code", code), slog.String("reason", reason))
	}
	if e.disconnectR != nil {
		ev := c.disconnectEvent(code, reason)
		if _, _, err := e.callInvoke(ev); err != nil {
			e.log.LogAttrs(context.Background(), slog.LevelWarn, "emulator: $disconnect integration failed",
				slog.String("connectionId", c.id), slog.String("error", err.Error()))
		}
	}
	e.connWG.Done()
}

// writeText queues p as a text message, in frames of at most MaxFrameSize
// bytes, for the writer. It returns errGone if the connection is closing or
// closed, and errSendBufferFull if the client has SendBufferSize bytes
// unread already (a message alone larger than that is accepted into an
// empty buffer). It never waits for the client.
func (c *conn) writeText(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errGone
	}
	if len(c.out) > 0 && len(c.out)+len(p) > c.e.sendBuffer {
		return errSendBufferFull
	}
	op := ws.OpText
	for {
		n := min(len(p), c.e.maxFrame)
		fin := n == len(p)
		k := putHeader(&c.hdr, fin, op, n)
		c.out = append(c.out, c.hdr[:k]...)
		c.out = append(c.out, p[:n]...)
		if fin {
			break
		}
		p, op = p[n:], ws.OpContinuation
	}
	c.lastSent.Store(time.Now().UnixNano())
	c.wakeWriter()
	return nil
}

// writeTextString is writeText for a string, without copying it: the
// frames only read the bytes, which are copied into the send buffer.
func (c *conn) writeTextString(s string) error {
	return c.writeText(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// writeControl queues a control frame unless the connection is closing. A
// pong that finds the send buffer full is dropped: the client is not
// reading, and RFC 6455 lets a pong answer only the latest ping.
func (c *conn) writeControl(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errGone
	}
	if len(c.out)+len(p) > c.e.sendBuffer {
		return errSendBufferFull
	}
	return c.writeFrameLocked(op, p)
}

// writeFrameLocked queues one final frame. c.wmu must be held.
func (c *conn) writeFrameLocked(op ws.OpCode, p []byte) error {
	k := putHeader(&c.hdr, true, op, len(p))
	c.out = append(c.out, c.hdr[:k]...)
	c.out = append(c.out, p...)
	c.wakeWriter()
	return nil
}

// wakeWriter tells the writer that out has data. c.wmu must be held.
func (c *conn) wakeWriter() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// startWriter starts the goroutine that writes the send buffer to the
// socket. It runs until finish.
func (c *conn) startWriter() {
	c.wake = make(chan struct{}, 1)
	c.done = make(chan struct{})
	c.stopped = make(chan struct{})
	go c.writeLoop()
}

// writeLoop writes queued frames to the socket, in order, as the client
// reads them. A client that reads nothing for writeTimeout while frames
// wait is gone: the socket is closed so that the read loop ends the
// connection (1006).
func (c *conn) writeLoop() {
	defer close(c.stopped)
	var buf []byte
	for {
		final := false
		select {
		case <-c.wake:
		case <-c.done:
			final = true // flush the last frames (a close frame) and stop
		}
		c.wmu.Lock()
		buf, c.out = c.out, buf[:0]
		c.wmu.Unlock()
		if len(buf) == 0 {
			if final {
				return
			}
			continue
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.nc.Write(buf); err != nil {
			c.wmu.Lock()
			c.closeSent = true
			c.closing.Store(true)
			c.setCauseLocked(closeAbnormal, "")
			c.out = nil
			c.wmu.Unlock()
			_ = c.nc.Close()
			return
		}
		if final {
			return
		}
		if cap(buf) > maxKeptBuffer {
			buf = nil // a burst is over; do not keep its memory per connection
		}
	}
}

// maxKeptBuffer is the largest send buffer a connection keeps between
// bursts.
const maxKeptBuffer = 64 << 10

// finalFlush bounds how long finish lets the writer send the last frames
// (the echo of the client's close frame) before it closes the socket.
const finalFlush = 50 * time.Millisecond

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
