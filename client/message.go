package client

import (
	"encoding/json"
	"fmt"
)

// Position is a place in a durable group's stream (docs/protocol.md 3):
// the epoch and offset of the last message delivered.
type Position struct {
	Epoch  string `json:"epoch"`
	Offset int64  `json:"offset"`
}

// Kind says what a Message is.
type Kind int

const (
	// KindApp is a frame the app sent (Reply, Send, Broadcast to a plain
	// group), as it arrived.
	KindApp Kind = iota
	// KindDurable is a message of a durable group's stream (or of the
	// session's own stream, group "$session"): delivered exactly once and
	// in stream order.
	KindDurable
	// KindDiscontinuity says that messages of Group were lost for this
	// client: its position moved from From to Position. What follows in
	// the group comes after the new position.
	KindDiscontinuity
	// KindPresence is a presence event of Group: Event is "join" or
	// "leave", Session the member; Data its presence data on a join.
	KindPresence
	// KindSessionLost says the server refused to resume the session
	// (expired, or its secret was lost) and a new session took its place:
	// the new session is in no group, and nothing of the old one will be
	// replayed. The app should join its groups again.
	KindSessionLost
	// KindError is an error frame about a control frame the client sent
	// ({"mullet":"error"}): Event holds its code, Data its message.
	KindError
)

func (k Kind) String() string {
	switch k {
	case KindApp:
		return "app"
	case KindDurable:
		return "durable"
	case KindDiscontinuity:
		return "discontinuity"
	case KindPresence:
		return "presence"
	case KindSessionLost:
		return "session lost"
	case KindError:
		return "error"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Message is what Receive returns.
type Message struct {
	Kind Kind
	// Group is the durable group of a KindDurable, KindDiscontinuity or
	// KindPresence message.
	Group string
	// Position is the stream position of a KindDurable message, or the new
	// position after a KindDiscontinuity.
	Position Position
	// From is the position a KindDiscontinuity moved from.
	From Position
	// Data is the payload: the frame of a KindApp message; the "data"
	// member of a KindDurable message (JSON), or its "text" as bytes when
	// Text is set; the presence data of a join; an error's message.
	Data []byte
	// Text reports that a KindDurable message's payload is text, not JSON.
	Text bool
	// Event is a presence event ("join", "leave") or an error code.
	Event string
	// Session is the member of a presence event; the new session ID of a
	// KindSessionLost.
	Session string
	// Binary reports a binary websocket frame (KindApp only).
	Binary bool
	// Raw is the frame as it arrived (nil for KindSessionLost).
	Raw []byte
}

// Decode decodes a message's JSON payload (Data) into a T.
func Decode[T any](m Message) (T, error) {
	var v T
	if m.Text || m.Binary {
		return v, fmt.Errorf("client: decode: the %s message holds %s, not JSON", m.Kind, map[bool]string{true: "text", false: "binary data"}[m.Text])
	}
	if err := json.Unmarshal(m.Data, &v); err != nil {
		return v, fmt.Errorf("client: decode %s message: %w", m.Kind, err)
	}
	return v, nil
}
