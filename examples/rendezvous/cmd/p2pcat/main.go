// Command p2pcat sends a file or stdin to a peer, or receives one, over the
// link package peer establishes after a rendezvous: directly through both
// NATs when it can, relayed through the rendezvous service otherwise.
//
//	p2pcat -url WS_URL -name PAIRING_NAME -send FILE   # or -send - for stdin
//	p2pcat -url WS_URL -name PAIRING_NAME -recv FILE   # or -recv - for stdout
//
// One end sends, the other receives; they find each other by the pairing
// name and wait for each other up to 10 minutes (the rendezvous barrier's
// lifetime). The receiver confirms the byte count and SHA-256 of what
// arrived, and the sender checks them: the exit status is 0 only when the
// whole stream arrived. The last line on stderr is
//
//	path=direct|relay setup_ms=N bytes=N mbps=N
//
// setup_ms is the time from the start of the dial to the established link,
// bytes the size of the stream, and mbps its throughput in megabits per
// second (one decimal).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/mulletgo/mullet/examples/rendezvous/peer"
)

// pairingWait is how long an end waits for its peer: the rendezvous
// barrier's lifetime.
const pairingWait = 10 * time.Minute

// ackSize is the receiver's confirmation: the byte count (8 bytes, big
// endian) and the SHA-256 of the stream.
const ackSize = 8 + sha256.Size

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("p2pcat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "websocket URL of the rendezvous service (ws:// or wss://)")
	name := fs.String("name", "", "pairing name shared with the peer")
	send := fs.String("send", "", "file to send, - for stdin")
	recv := fs.String("recv", "", "file to write what arrives to, - for stdout")
	apiKey := fs.String("api-key", "", "the tenant's API key, sent as x-api-key on $connect (the service requires one)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: p2pcat -url WS_URL -name PAIRING_NAME (-send FILE|- | -recv FILE|-)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *url == "" || *name == "" || (*send == "") == (*recv == "") || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "p2pcat:", err)
		return 1
	}
	var (
		in  io.Reader
		out io.WriteCloser
	)
	switch {
	case *send == "-":
		in = stdin
	case *send != "":
		f, err := os.Open(*send)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		in = f
	case *recv == "-":
		out = nopCloser{stdout}
	default:
		f, err := os.Create(*recv)
		if err != nil {
			return fail(err)
		}
		out = f
	}

	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, pairingWait)
	var opts *peer.Options
	if *apiKey != "" {
		opts = &peer.Options{Upgrade: peer.APIKey(*apiKey)}
	}
	conn, err := peer.Dial(dctx, *url, *name, opts)
	cancel()
	if err != nil {
		if out != nil {
			out.Close()
		}
		return fail(err)
	}
	defer conn.Close()
	setup := time.Since(start)

	t0 := time.Now()
	var n int64
	if in != nil {
		n, err = sendStream(ctx, conn, in)
	} else {
		n, err = recvStream(ctx, conn, out)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	elapsed := time.Since(t0)
	if err != nil {
		return fail(err)
	}
	mbps := float64(n) * 8 / 1e6 / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(stderr, "path=%s setup_ms=%d bytes=%d mbps=%.1f\n", conn.Path(), setup.Milliseconds(), n, mbps)
	return 0
}

// sendStream copies in to a new stream, ends it, and checks the receiver's
// confirmation.
func sendStream(ctx context.Context, conn *peer.Conn, in io.Reader) (int64, error) {
	s, err := conn.OpenStream(ctx)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	n, err := io.Copy(s, io.TeeReader(in, h))
	if err != nil {
		s.CancelWrite(1)
		return n, fmt.Errorf("send: %w", err)
	}
	if err := s.Close(); err != nil {
		return n, err
	}
	ack := make([]byte, ackSize)
	if _, err := io.ReadFull(s, ack); err != nil {
		return n, fmt.Errorf("no confirmation from the receiver: %w", err)
	}
	if got := int64(binary.BigEndian.Uint64(ack)); got != n || !bytes.Equal(ack[8:], h.Sum(nil)) {
		return n, fmt.Errorf("the receiver got %d bytes with SHA-256 %x; sent %d bytes with %x", got, ack[8:], n, h.Sum(nil))
	}
	return n, nil
}

// recvStream copies the peer's stream to out and confirms it.
func recvStream(ctx context.Context, conn *peer.Conn, out io.Writer) (int64, error) {
	s, err := conn.AcceptStream(ctx)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), s)
	if err != nil {
		s.CancelRead(1)
		return n, fmt.Errorf("receive: %w", err)
	}
	ack := binary.BigEndian.AppendUint64(make([]byte, 0, ackSize), uint64(n))
	ack = h.Sum(ack)
	if _, err := s.Write(ack); err != nil {
		return n, err
	}
	s.Close()
	// The sender closes the link once it has read the confirmation.
	select {
	case <-conn.Context().Done():
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	return n, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
