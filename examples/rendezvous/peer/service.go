package peer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/examples/rendezvous/app"
)

// The first byte of the data a link sends through the service's relay route
// says what the rest is.
const (
	// kindPackets: QUIC packets, each prefixed by its length (2 bytes, big
	// endian), for the relay path.
	kindPackets byte = 1
	// kindPrimed: the sender has opened its NAT's mapping (and, as the QUIC
	// server, listens); one flag byte follows (flagRelayOnly).
	kindPrimed byte = 2
	// kindUseRelay: the QUIC client's direct attempt failed; both take the
	// relay.
	kindUseRelay byte = 3
)

const flagRelayOnly byte = 1

// maxRelayFrame bounds the raw data of one relay frame, so that the frame
// (base64 plus the JSON around it, with a connection ID of up to 128
// characters) stays inside API Gateway's 32 KB frame quota and is metered as
// a single message each way (TestRelayFrameFitsTheFrameQuota).
const maxRelayFrame = 24000

// readLimit is what a link accepts in one frame from the service: API
// Gateway's 128 KB message quota.
const readLimit = 128 << 10

// session is a link's websocket to the rendezvous service: the pairing,
// then the peer's control messages, then (on the relay path) its packets.
// One goroutine reads; writes are serialized.
type session struct {
	ws      *websocket.Conn
	writeMu sync.Mutex

	answer  chan answerOrError // the first answer or error frame, once
	control chan []byte        // the peer's control messages
	packets func(batch []byte) // set before the answer is released
	closed  chan struct{}      // closed when the read loop ends
	err     error              // why the read loop ended; read after closed

	// relayPrefix is `{"action":"relay","to":"<peer>","data":"`, set by
	// the reader when the answer arrives and read only after it.
	relayPrefix []byte
	cancel      context.CancelFunc
}

type answerOrError struct {
	answer app.Answer
	err    error
}

// ServiceError is an error frame from the rendezvous service, such as a
// pairing that already has its two participants or an invalid name.
type ServiceError struct {
	Message string
}

func (e *ServiceError) Error() string { return "peer: the rendezvous service answered: " + e.Message }

// incoming is any frame the service sends a link.
type incoming struct {
	app.Answer
	From    string `json:"From"`
	Data    string `json:"Data"`
	Message string `json:"message"`
}

// openSession dials the service: the upgrade request goes through
// o.Upgrade (API key, SigV4) and o.HTTPClient.
func openSession(ctx context.Context, serviceURL string, o *Options) (*session, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, serviceURL, nil)
	if err != nil {
		return nil, fmt.Errorf("peer: service URL %q: %w", serviceURL, err)
	}
	if o.Upgrade != nil {
		if err := o.Upgrade(ctx, req); err != nil {
			return nil, fmt.Errorf("peer: prepare the upgrade request: %w", err)
		}
	}
	ws, _, err := websocket.Dial(ctx, req.URL.String(), &websocket.DialOptions{HTTPClient: o.HTTPClient, HTTPHeader: req.Header})
	if err != nil {
		return nil, fmt.Errorf("peer: connect to the rendezvous service: %w", err)
	}
	ws.SetReadLimit(readLimit)
	rctx, cancel := context.WithCancel(context.Background())
	s := &session{
		ws:      ws,
		answer:  make(chan answerOrError, 1),
		control: make(chan []byte, 16),
		closed:  make(chan struct{}),
		cancel:  cancel,
	}
	go s.read(rctx)
	return s, nil
}

// pair sends the pair frame.
func (s *session) pair(ctx context.Context, p app.Pair) error {
	data, err := json.Marshal(struct {
		Action string `json:"action"`
		app.Pair
	}{"pair", p})
	if err != nil {
		return err
	}
	return s.write(ctx, data)
}

func (s *session) write(ctx context.Context, data []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.ws.Write(ctx, websocket.MessageText, data); err != nil {
		return fmt.Errorf("peer: write to the rendezvous service: %w", err)
	}
	return nil
}

// send relays data to the peer (after the answer).
func (s *session) send(ctx context.Context, data []byte) error {
	return s.write(ctx, relayFrame(s.relayPrefix, data))
}

// relayFrame is the relay frame of data after prefix
// (`{"action":"relay","to":"<peer>","data":"`).
func relayFrame(prefix, data []byte) []byte {
	frame := make([]byte, 0, len(prefix)+base64.StdEncoding.EncodedLen(len(data))+2)
	frame = append(frame, prefix...)
	frame = base64.StdEncoding.AppendEncode(frame, data)
	return append(frame, '"', '}')
}

// relayPrefix is the start of every relay frame to peer.
func relayPrefix(peer string) []byte {
	to, _ := json.Marshal(peer)
	return append(append([]byte(`{"action":"relay","to":`), to...), `,"data":"`...)
}

// read is the session's one reader. Relayed frames that arrive before the
// answer (the peer may learn of the pairing first) wait for it, then those
// not from the peer are dropped.
func (s *session) read(ctx context.Context) {
	defer close(s.closed)
	var (
		peer    string
		early   []incoming
		settled bool
	)
	for {
		_, data, err := s.ws.Read(ctx)
		if err != nil {
			s.err = err
			if !settled {
				s.answer <- answerOrError{err: fmt.Errorf("peer: the rendezvous service closed the connection before the peer arrived: %w", err)}
			}
			return
		}
		var f incoming
		if err := json.Unmarshal(data, &f); err != nil {
			continue // not a frame of this protocol
		}
		switch {
		case f.From != "":
			if !settled {
				if len(early) < 64 {
					early = append(early, f)
				}
				continue
			}
			if f.From == peer {
				s.dispatch(f.Data)
			}
		case !settled && f.SourceIP != "":
			settled, peer = true, f.ConnectionID
			s.relayPrefix = relayPrefix(peer)
			s.answer <- answerOrError{answer: f.Answer}
			for _, e := range early {
				if e.From == peer {
					s.dispatch(e.Data)
				}
			}
			early = nil
		case !settled && f.Message != "":
			settled = true
			s.answer <- answerOrError{err: &ServiceError{Message: f.Message}}
		}
		// Error frames after the answer (a relay frame to a peer that has
		// left) change nothing: the link's own timeouts decide.
	}
}

func (s *session) dispatch(b64 string) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(data) == 0 {
		return
	}
	switch data[0] {
	case kindPackets:
		if s.packets != nil {
			s.packets(data[1:])
		}
	case kindPrimed, kindUseRelay:
		select {
		case s.control <- data:
		default:
		}
	}
}

// waitAnswer waits for the answer; ctx ending first is ErrNoPeer.
func (s *session) waitAnswer(ctx context.Context) (app.Answer, error) {
	select {
	case a := <-s.answer:
		return a.answer, a.err
	case <-ctx.Done():
		return app.Answer{}, fmt.Errorf("%w: %w", ErrNoPeer, context.Cause(ctx))
	}
}

// waitControl waits for the peer's control message of kind, ignoring others,
// until ctx ends or the session closes.
func (s *session) waitControl(ctx context.Context, kind byte) ([]byte, error) {
	for {
		select {
		case m := <-s.control:
			if m[0] == kind {
				return m, nil
			}
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-s.closed:
			return nil, errors.New("peer: the rendezvous service closed the connection")
		}
	}
}

// close closes the websocket normally and waits for the reader.
func (s *session) close() {
	_ = s.ws.Close(websocket.StatusNormalClosure, "")
	s.cancel()
	<-s.closed
}
