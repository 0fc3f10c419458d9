package lambdaruntime

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Runtime API (2018-06-01) header names.
const (
	headerRequestID       = "Lambda-Runtime-Aws-Request-Id"
	headerDeadline        = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN     = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID         = "Lambda-Runtime-Trace-Id"
	headerClientContext   = "Lambda-Runtime-Client-Context"
	headerCognitoIdentity = "Lambda-Runtime-Cognito-Identity"
	headerErrorType       = "Lambda-Runtime-Function-Error-Type"
)

// maxErrorSize bounds the body of an error report that is read.
const maxErrorSize = 1 << 20

// runtimeAPI is the instance's Runtime API.
func (inst *instance) runtimeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", inst.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", inst.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", inst.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", inst.initError)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, http.StatusNotFound, "UnknownPath", "this Runtime API emulation serves /2018-06-01/runtime/invocation/next, .../invocation/{id}/response, .../invocation/{id}/error and /2018-06-01/runtime/init/error; not "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// next long-polls for the instance's next event. Calling it ends the
// previous invocation; the first call ends the init phase.
func (inst *instance) next(w http.ResponseWriter, r *http.Request) {
	p := inst.p
	p.mu.Lock()
	if inst.dead || inst.stopping != stopNone {
		// Being killed: there is no next event, and no error to report.
		p.mu.Unlock()
		select {
		case <-inst.exited:
		case <-r.Context().Done():
		}
		return
	}
	if !inst.initDone {
		inst.initDone = true
		inst.initDuration = time.Since(inst.started)
	}
	if inv := inst.cur; inv != nil {
		inst.cur = nil
		inst.deadline.Stop()
		if !inv.answered {
			inv.finishLocked(outcome{err: &FunctionError{
				Type:     ErrorTypeInvalidState,
				Message:  "the runtime asked for the next event without answering request " + inv.id,
				Instance: inst.n,
			}})
		}
	}
	if inst.pending == nil {
		p.releaseLocked(inst)
	}
	p.mu.Unlock()

	for {
		select {
		case <-inst.wake:
		case <-r.Context().Done():
			inst.abandoned()
			return
		case <-inst.exited:
			return
		}
		p.mu.Lock()
		inv := inst.pending
		if inv == nil {
			p.mu.Unlock()
			continue
		}
		inst.pending = nil
		inst.cur = inv
		now := time.Now()
		deadline := now.Add(p.o.Timeout)
		inst.deadline = time.AfterFunc(p.o.Timeout, func() { inst.deadlineExceeded(inv) })
		p.mu.Unlock()

		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set(headerRequestID, inv.id)
		h.Set(headerDeadline, strconv.FormatInt(deadline.UnixMilli(), 10))
		h.Set(headerFunctionARN, p.arn)
		h.Set(headerTraceID, newTraceID(now))
		if inv.clientContext != "" {
			h.Set(headerClientContext, inv.clientContext)
		}
		if inv.cognitoIdentity != "" {
			h.Set(headerCognitoIdentity, inv.cognitoIdentity)
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
		return
	}
}

// abandoned handles a poll the runtime gave up on. A runtime polls until
// it exits, so the instance is stopped: an event handed to it now would
// never be delivered.
func (inst *instance) abandoned() {
	p := inst.p
	// A process that is exiting drops its poll first: let its exit be
	// reported as such.
	select {
	case <-inst.exited:
		return
	case <-time.After(200 * time.Millisecond):
	}
	p.mu.Lock()
	if inst.dead || inst.stopping != stopNone {
		p.mu.Unlock()
		return
	}
	inst.stopping = stopAbandoned
	p.removeIdleLocked(inst)
	p.mu.Unlock()
	p.log.Warn("lambda instance stopped polling for events; killing it", "instance", inst.n)
	inst.kill()
}

// current returns the invocation the request names, or writes the error
// and returns nil. Pool.mu is held.
func (inst *instance) currentLocked(w http.ResponseWriter, id string) *invocation {
	inv := inst.cur
	switch {
	case inv == nil || inv.id != id:
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation "+id+" is in progress on this instance")
		return nil
	case inv.answered:
		writeAPIError(w, http.StatusForbidden, "InvalidStateTransition", "invocation "+id+" was already answered")
		return nil
	}
	return inv
}

// response takes the function's answer to an event.
func (inst *instance) response(w http.ResponseWriter, r *http.Request) {
	p := inst.p
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxResponseSize+1))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", "reading the response: "+err.Error())
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	inv := inst.currentLocked(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	inv.answered = true
	if len(body) > MaxResponseSize {
		inv.finishLocked(outcome{err: &FunctionError{
			Type:     ErrorTypeResponseTooLarge,
			Message:  "Response payload size exceeded maximum allowed payload size (" + strconv.Itoa(MaxResponseSize) + " bytes).",
			Instance: inst.n,
		}})
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "the response exceeds "+strconv.Itoa(MaxResponseSize)+" bytes")
		return
	}
	inv.finishLocked(outcome{body: body})
	writeAccepted(w)
}

// errorReport is the body runtimes post to the error endpoints.
type errorReport struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func readErrorReport(r *http.Request) errorReport {
	var rep errorReport
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorSize))
	if json.Unmarshal(body, &rep) != nil {
		rep.Message = string(body)
	}
	if t := r.Header.Get(headerErrorType); t != "" {
		rep.Type = t
	}
	if rep.Type == "" {
		rep.Type = "Unhandled"
	}
	return rep
}

// invocationError takes the function's failure to handle an event.
func (inst *instance) invocationError(w http.ResponseWriter, r *http.Request) {
	p := inst.p
	rep := readErrorReport(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	inv := inst.currentLocked(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	inv.answered = true
	inv.finishLocked(outcome{err: &FunctionError{Type: rep.Type, Message: rep.Message, Instance: inst.n}})
	writeAccepted(w)
}

// initError takes the report of a failed initialization and stops the
// instance; its first event fails with the report.
func (inst *instance) initError(w http.ResponseWriter, r *http.Request) {
	p := inst.p
	rep := readErrorReport(r)
	p.mu.Lock()
	if inst.initDone || inst.dead || inst.stopping != stopNone {
		p.mu.Unlock()
		writeAPIError(w, http.StatusForbidden, "InvalidStateTransition", "init errors can only be reported before the first poll for an event")
		return
	}
	inst.stopping = stopInitError
	inst.initErr = &FunctionError{Type: rep.Type, Message: rep.Message, Init: true, Instance: inst.n}
	p.mu.Unlock()
	p.log.Warn("lambda instance reported an init error", "instance", inst.n, "errorType", rep.Type, "errorMessage", rep.Message)
	writeAccepted(w)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	inst.kill()
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeAPIError(w http.ResponseWriter, status int, errorType, message string) {
	body, err := json.Marshal(errorReport{Message: message, Type: errorType})
	if err != nil {
		body = []byte(`{"errorType":"` + errorType + `"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
