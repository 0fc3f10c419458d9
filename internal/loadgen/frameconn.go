package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"time"

	"github.com/gobwas/ws"
)

// frameConn is the echo mode's client end of a websocket: one text frame
// out, one message in, with reused buffers, one write and no goroutine of
// its own. The load generator shares a small machine's cores with the
// server under test, so every microsecond it spends per round trip is one
// the server does not get: this client spends about a fifth less than
// coder/websocket's (docs/benchmarks.md), which the other modes use.
type frameConn struct {
	nc  net.Conn
	br  *bufio.Reader
	out bytes.Buffer           // header, mask and payload of the frame being sent
	hdr [ws.MaxHeaderSize]byte // the header, before it goes into out
	in  []byte                 // payload of the last message read
}

// dialFrameConns opens n connections to url.
func dialFrameConns(ctx context.Context, url string, n int) ([]*frameConn, error) {
	return dialEach(ctx, n, func(ctx context.Context, _ int) (*frameConn, error) {
		nc, br, _, err := ws.Dialer{}.Dial(ctx, url)
		if err != nil {
			return nil, err
		}
		if br == nil {
			br = bufio.NewReaderSize(nc, 4096)
		}
		return &frameConn{nc: nc, br: br}, nil
	}, (*frameConn).close)
}

// writeText sends p as one masked text frame, in one write.
func (c *frameConn) writeText(p []byte) error { return c.writeFrame(ws.OpText, p) }

// readMessage reads the next data message, answering pings, and returns
// its payload, valid until the next call.
func (c *frameConn) readMessage(deadline time.Time) ([]byte, error) {
	_ = c.nc.SetReadDeadline(deadline)
	c.in = c.in[:0]
	for {
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			return nil, err
		}
		if h.Length > 1<<20 {
			return nil, fmt.Errorf("frame of %d bytes", h.Length)
		}
		n := len(c.in)
		c.in = slices.Grow(c.in, int(h.Length))[:n+int(h.Length)]
		if _, err := io.ReadFull(c.br, c.in[n:]); err != nil {
			return nil, err
		}
		switch h.OpCode {
		case ws.OpClose:
			return nil, errors.New("connection closed by the server")
		case ws.OpPing:
			// Pings are not part of the benchmark; answer and go on.
			err := c.writeFrame(ws.OpPong, c.in[n:])
			c.in = c.in[:n]
			if err != nil {
				return nil, err
			}
			continue
		case ws.OpPong:
			c.in = c.in[:n]
			continue
		}
		if h.Fin {
			return c.in, nil
		}
	}
}

// writeFrame sends one masked frame: header, mask and payload in one
// write, from a buffer reused across frames.
func (c *frameConn) writeFrame(op ws.OpCode, p []byte) error {
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Length: int64(len(p))}
	binary.LittleEndian.PutUint32(h.Mask[:], rand.Uint32())
	c.out.Reset()
	if err := ws.WriteHeaderBuffer(&c.out, h, c.hdr[:]); err != nil {
		return err
	}
	n := c.out.Len()
	c.out.Write(p)
	ws.Cipher(c.out.Bytes()[n:], h.Mask, 0)
	_, err := c.nc.Write(c.out.Bytes())
	return err
}

func (c *frameConn) close() { c.nc.Close() }
