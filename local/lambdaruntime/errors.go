package lambdaruntime

import (
	"errors"
	"fmt"
)

// Error types of the failures the pool itself reports, as Lambda names them.
const (
	// ErrorTypeExit is the type of the error of an invocation whose
	// instance exited (or never initialized) without reporting an error.
	ErrorTypeExit = "Runtime.ExitError"
	// ErrorTypeTimeout is the type of the error of an invocation that
	// outlived its deadline, or of an initialization that outlived
	// Options.InitTimeout. The instance is killed.
	ErrorTypeTimeout = "Sandbox.Timedout"
	// ErrorTypeResponseTooLarge is the type of the error of an invocation
	// whose response exceeded MaxResponseSize.
	ErrorTypeResponseTooLarge = "Function.ResponseSizeTooLarge"
	// ErrorTypeInvalidState is the type of the error of an invocation the
	// runtime abandoned: it asked for the next event without answering.
	ErrorTypeInvalidState = "Runtime.InvalidStateTransition"
)

// ErrClosed is returned by Invoke on a closed pool, and for an event that
// was still waiting for an instance when the pool was closed: the function
// never saw it, so it may be retried elsewhere. An event an instance was
// handling when Close killed it fails with a *FunctionError of type
// ErrorTypeExit instead.
var ErrClosed = errors.New("lambdaruntime: pool closed")

// ErrBusy is returned by Invoke when all Options.MaxInstances instances
// stayed busy for Options.Timeout.
var ErrBusy = errors.New("lambdaruntime: every instance stayed busy (Options.MaxInstances reached)")

// FunctionError is an invocation that produced no response: the function
// reported an error or a panic, failed to initialize, exited, or timed out.
// API Gateway answers all of these with its "Internal server error" frame.
type FunctionError struct {
	// Type is the error's type: the errorType the runtime reported (for
	// aws-lambda-go, the Go type name of the error or panic value, e.g.
	// "errorString"), or one of the ErrorType constants.
	Type string
	// Message is the error message, as the runtime reported it or as
	// Lambda words it ("Task timed out after 3.00 seconds").
	Message string
	// Init reports that the instance failed before it polled for its first
	// event.
	Init bool
	// Instance is the number of the instance that failed (1, 2, ...).
	Instance int
}

func (e *FunctionError) Error() string {
	phase := "invocation"
	if e.Init {
		phase = "init"
	}
	return fmt.Sprintf("lambdaruntime: instance %d: %s failed: %s: %s", e.Instance, phase, e.Type, e.Message)
}
