package emulator

import (
	"bufio"
	"encoding/binary"
	"errors"

	"github.com/gobwas/ws"
)

// Close codes and reasons the emulator sends and reports in $disconnect.
const (
	closeNormal         = 1000
	closeGoingAway      = 1001
	closeProtocolError  = 1002
	closeUnsupported    = 1003
	closeNoStatus       = 1005
	closeAbnormal       = 1006
	closeInvalidPayload = 1007
	closeTooBig         = 1009

	reasonGoingAway = "Going away"
	// reasonNoStatus is what API Gateway reports when the client's close
	// frame carries no status code.
	reasonNoStatus    = "Client-side close frame status not set"
	reasonTooBig      = "Message too big"
	reasonUnsupported = "Binary frames are not supported"
)

// maxControlPayload is RFC 6455's limit on control frame payloads.
const maxControlPayload = 125

// maxHeaderSize is the largest frame header: 2 bytes, 8 of extended
// length, 4 of mask.
const maxHeaderSize = 14

var errBadLength = errors.New("emulator: frame length has its most significant bit set")

// header is a WebSocket frame header.
type header struct {
	fin    bool
	rsv    byte
	op     ws.OpCode
	masked bool
	mask   [4]byte
	length int64
}

// readHeader reads a frame header from br. It consumes nothing unless it
// returns a header, so that a read timeout leaves br at a frame boundary and
// the connection can still be closed with a handshake.
func readHeader(br *bufio.Reader) (h header, err error) {
	b, err := br.Peek(2)
	if err != nil {
		return h, err
	}
	h.fin = b[0]&0x80 != 0
	h.rsv = (b[0] >> 4) & 0x7
	h.op = ws.OpCode(b[0] & 0x0f)
	h.masked = b[1]&0x80 != 0
	l7 := b[1] & 0x7f
	n := 2
	switch l7 {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h.masked {
		n += 4
	}
	if n > 2 {
		if b, err = br.Peek(n); err != nil {
			return h, err
		}
	}
	switch l7 {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		v := binary.BigEndian.Uint64(b[2:10])
		if v>>63 != 0 {
			return h, errBadLength
		}
		h.length = int64(v)
	default:
		h.length = int64(l7)
	}
	if h.masked {
		copy(h.mask[:], b[n-4:n])
	}
	_, _ = br.Discard(n) // cannot fail: the bytes are buffered
	return h, nil
}

// putHeader encodes an unmasked (server to client) frame header into buf
// and returns its length.
func putHeader(buf *[maxHeaderSize]byte, fin bool, op ws.OpCode, n int) int {
	b := byte(op)
	if fin {
		b |= 0x80
	}
	buf[0] = b
	switch {
	case n < 126:
		buf[1] = byte(n)
		return 2
	case n <= 0xffff:
		buf[1] = 126
		binary.BigEndian.PutUint16(buf[2:4], uint16(n))
		return 4
	default:
		buf[1] = 127
		binary.BigEndian.PutUint64(buf[2:10], uint64(n))
		return 10
	}
}
