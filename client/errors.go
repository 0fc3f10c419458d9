package client

import (
	"errors"
	"fmt"
)

// Errors of a Conn, to match with errors.Is.
var (
	// ErrClosed: the Conn was closed by Close.
	ErrClosed = errors.New("client: connection closed")
	// ErrQueueFull: Send was called while disconnected and the send queue
	// (Options.SendQueue) is full. The frame was not queued.
	ErrQueueFull = errors.New("client: disconnected and the send queue is full")
	// ErrRequestTimeout: a Request had no reply within its time (ctx's
	// deadline, or Options.RequestTimeout). API Gateway's own error frames
	// (a frame that fails a route's model, a failed invocation) carry no
	// $rid, so a request answered by one of them times out.
	ErrRequestTimeout = errors.New("client: no reply to the request in time")
	// ErrConnectionLost: the connection a request was sent on was lost
	// before its reply arrived. The request may or may not have been
	// served; it is not sent again.
	ErrConnectionLost = errors.New("client: the connection was lost before the reply")
	// ErrNotObject: Request needs a frame that is a JSON object.
	ErrNotObject = errors.New("client: a request must be a JSON object")
)

// HandshakeError is a refused websocket upgrade: the HTTP status the
// server (API Gateway's $connect) answered, and the body's start.
type HandshakeError struct {
	Status int
	Body   string
	URL    string // without the query string, which may hold secrets
}

func (e *HandshakeError) Error() string {
	msg := fmt.Sprintf("client: the server refused the websocket handshake to %s: HTTP %d", e.URL, e.Status)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// ReplyError is the reply to a Request when it is an error frame shaped like
// API Gateway's ({"message":...,"connectionId":...,"requestId":...}).
type ReplyError struct {
	Message   string
	RequestID string
	Reply     Message
}

func (e *ReplyError) Error() string { return "client: the request failed: " + e.Message }
