package framework

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors returned by the callback helpers (SendText, SendJSON, ReplyText,
// ReplyJSON, BroadcastText, BroadcastJSON, Close, Info). Match them with
// errors.Is.
var (
	// ErrGone: the connection no longer exists (API Gateway answered 410
	// GoneException). The framework has already removed its record, state
	// and group memberships.
	ErrGone = errors.New("framework: connection is gone")
	// ErrPayloadTooLarge: the frame exceeds API Gateway's 128 KB limit
	// (413 PayloadTooLargeException).
	ErrPayloadTooLarge = errors.New("framework: payload too large for API Gateway (128 KB)")
	// ErrThrottled: API Gateway kept answering 429 LimitExceededException
	// after bounded retries.
	ErrThrottled = errors.New("framework: callback API throttled")
	// ErrForbidden: API Gateway refused the callback (403), usually
	// missing execute-api:ManageConnections permission.
	ErrForbidden = errors.New("framework: callback API forbidden (check execute-api:ManageConnections)")
	// ErrNoCallback: the runtime has no callback client configured.
	ErrNoCallback = errors.New("framework: no callback client configured")
	// ErrAlreadyReplied: an invocation replied (ReplyText, ReplyJSON, or a
	// barrier's release) and was asked to reply again; the second frame was
	// not sent.
	ErrAlreadyReplied = errors.New("framework: already replied: an invocation replies once; use SendText or SendJSON to the caller's ConnectionID for more frames")
)

// HandlerError is what Invoke returns when a message handler fails (an
// error that is not a 4xx *Error, or a panic turned into one by
// middleware). Returned from the Lambda function it is an invocation error,
// and API Gateway answers the caller with its Internal server error frame,
// on one-way and two-way routes alike; the emulator does the same. A
// response with statusCode >= 500 would not do that: API Gateway sends a
// one-way caller nothing and a two-way caller the body.
type HandlerError struct {
	// RequestID is the requestId of the failed invocation.
	RequestID string
	// Err is the handler's error; it is logged, never shown to the client.
	Err error
}

// Error implements error.
func (e *HandlerError) Error() string {
	return fmt.Sprintf("framework: handler failed (requestId %s): %v", e.RequestID, e.Err)
}

// Unwrap returns the handler's error.
func (e *HandlerError) Unwrap() error { return e.Err }

// Error is an error a handler returns to tell the client what went wrong.
// On $connect, Status (a 4xx) rejects the connection with that HTTP status.
// On other routes the caller gets an error frame shaped like API Gateway's
// ({"message":...,"connectionId":...,"requestId":...}); it is not logged as
// a failure.
type Error struct {
	// Status is the HTTP status returned to API Gateway, e.g. 400, 401, 403.
	Status int
	// Message is shown to the client.
	Message string
	// Err is an optional cause, logged but never shown to the client.
	Err error
}

// NewError returns an *Error with the given status and client message.
func NewError(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Reject returns the *Error a $connect handler returns to refuse a
// connection, e.g. Reject(http.StatusUnauthorized, "missing token").
func Reject(status int, message string) *Error {
	return &Error{Status: status, Message: message}
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func statusOf(err error) int {
	var fe *Error
	if errors.As(err, &fe) && fe.Status >= 400 && fe.Status < 600 {
		return fe.Status
	}
	return http.StatusInternalServerError
}
