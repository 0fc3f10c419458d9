package framework

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// PanicError is what the framework panics with when a handler (middleware
// included) panics: the value, and the stack trimmed to the app's frames.
// The framework panics again rather than carry on, so that a Lambda
// instance whose handler panicked is replaced as aws-lambda-go does; the
// emulator and aws-lambda-go report the value with its Error text, which is
// what `mullet dev` prints. A panicking $connect authorizer refuses the
// connection with an error that is a *PanicError.
type PanicError struct {
	// Where names what panicked, e.g. `the handler of route "nick"`.
	Where string
	// Value is what was passed to panic.
	Value any
	// AppFrames are the frames of the app's own code between the panic and
	// the framework, innermost first: its handler and middleware, and what
	// they called, without the Go runtime's and the framework's frames.
	AppFrames []runtime.Frame
	// Hidden is how many frames of the framework, the Lambda runtime and
	// the Go runtime AppFrames leaves out.
	Hidden int
	// Stack is the goroutine's whole stack when the panic was recovered.
	Stack []byte
}

// Error returns the panic value and, on the following lines, the app's
// frames, e.g.
//
//	the handler of route "nick" panicked: assignment to entry in nil map
//	    example.com/chat/app.New.func1
//	        /src/chat/app/app.go:42
//	    (+14 frames of mullet and the Go runtime)
func (e *PanicError) Error() string {
	var b strings.Builder
	b.WriteString(e.Where)
	b.WriteString(" panicked: ")
	fmt.Fprint(&b, e.Value)
	for _, f := range e.AppFrames {
		b.WriteString("\n    ")
		b.WriteString(f.Function)
		b.WriteString("\n        ")
		b.WriteString(f.File)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(f.Line))
	}
	if e.Hidden > 0 {
		b.WriteString("\n    (+")
		b.WriteString(strconv.Itoa(e.Hidden))
		b.WriteString(" frames of mullet and the Go runtime)")
	}
	return b.String()
}

// Unwrap returns the panic value if it is an error, such as a
// runtime.Error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// frameworkPrefix starts the function names of this package (its
// subpackages continue with "/", not ".").
var frameworkPrefix = reflect.TypeFor[PanicError]().PkgPath() + "."

// newPanicError builds the PanicError of value p, recovered by a deferred
// function of the framework function named boundary: the frames below it
// are the framework's callers, never the app's. Call it from the deferred
// function itself, while the panicking frames are still on the stack.
func newPanicError(where string, p any, boundary string) *PanicError {
	if pe, ok := p.(*PanicError); ok {
		return pe // recovered again further out
	}
	e := &PanicError{Where: where, Value: p, Stack: debug.Stack()}
	pcs := make([]uintptr, 128)
	n := runtime.Callers(2, pcs) // skip runtime.Callers and newPanicError
	frames := runtime.CallersFrames(pcs[:n])
	// The deferred function, then the runtime's panic machinery, then the
	// frames that panicked up to the boundary.
	inWindow, pastPanic := true, false
	for {
		f, more := frames.Next()
		switch {
		case !pastPanic:
			if f.Function == "runtime.gopanic" {
				pastPanic = true
			}
		case f.Function == frameworkPrefix+boundary:
			inWindow = false
			e.Hidden++
		case inWindow && !strings.HasPrefix(f.Function, "runtime.") && !strings.HasPrefix(f.Function, frameworkPrefix):
			e.AppFrames = append(e.AppFrames, f)
		default:
			e.Hidden++
		}
		if !more {
			break
		}
	}
	if !pastPanic {
		e.Hidden = 0 // not called during a panic: no frames to tell
	}
	if n == len(pcs) {
		e.Hidden++ // at least one more
	}
	return e
}

// callHandler runs h for inv. A panic in h is panicked again as a
// *PanicError naming the route and the app's frames.
func callHandler(ctx context.Context, h Handler, inv *Invocation) error {
	defer func() {
		if p := recover(); p != nil {
			panic(newPanicError(fmt.Sprintf("the handler of route %q", inv.route), p, "callHandler"))
		}
	}()
	return h(ctx, inv)
}
