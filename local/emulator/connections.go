package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"
)

// reasonDeleted is the $disconnect reason after DeleteConnection, as API
// Gateway's execution logs show it (with code 1000).
const reasonDeleted = "Connection Closed Normally"

// msgInvalidUTF8 answers a PostToConnection whose data is not UTF-8.
const msgInvalidUTF8 = `{"message":"Invalid data: not valid UTF-8. The emulator sends data as a WebSocket text frame, which must be UTF-8; encode binary data, e.g. as base64"}`

// connectionTimeLayout is the ISO 8601 layout of GetConnection's
// connectedAt and lastActiveAt.
const connectionTimeLayout = "2006-01-02T15:04:05.000Z"

// getConnectionOutput is the body of a GetConnection response, as the
// API Gateway Management API's rest-json protocol defines it.
type getConnectionOutput struct {
	ConnectedAt  string             `json:"connectedAt"`
	Identity     connectionIdentity `json:"identity"`
	LastActiveAt string             `json:"lastActiveAt"`
}

type connectionIdentity struct {
	SourceIP string `json:"sourceIp"`
	// UserAgent is null when the client sent no User-Agent, as in AWS.
	UserAgent *string `json:"userAgent"`
}

// serveConnections serves the @connections API for one connection ID:
// POST (PostToConnection), GET (GetConnection), DELETE (DeleteConnection).
func (e *Emulator) serveConnections(w http.ResponseWriter, r *http.Request, id string) {
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
	default:
		// API Gateway answers a method no resource defines like a missing
		// resource.
		e.writeError(w, http.StatusForbidden, e.hdrForbidden, msgMissingToken)
		return
	}
	// The signature covers the body, so it is read first.
	var body []byte
	if r.Method == http.MethodPost {
		if r.ContentLength > int64(e.maxMessage) {
			// Read what the client is still sending (bounded, and
			// within the body deadline) before answering: closing a
			// socket with unread data resets it, and the client would
			// see a reset instead of the 413.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
			_, _ = io.CopyN(io.Discard, r.Body, min(r.ContentLength, 4*int64(e.maxMessage)))
			e.writeError(w, http.StatusRequestEntityTooLarge, e.hdrTooLarge, `{"message":"Request entity too large"}`)
			return
		}
		bp := e.bodies.Get().(*[]byte)
		defer e.bodies.Put(bp)
		// Not every ResponseWriter supports deadlines (e.g. a test's);
		// the server's does.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
		n, err := readFull(r.Body, *bp)
		if err != nil {
			e.log.LogAttrs(r.Context(), slog.LevelInfo, "emulator: reading @connections body failed",
				slog.String("connectionId", id), slog.String("error", err.Error()))
			e.writeError(w, http.StatusBadRequest, e.hdrBadRequest, `{"message":"Could not read the request body"}`)
			return
		}
		if n > e.maxMessage {
			_, _ = io.CopyN(io.Discard, r.Body, 4*int64(e.maxMessage)) // as above: no reset
			e.writeError(w, http.StatusRequestEntityTooLarge, e.hdrTooLarge, `{"message":"Request entity too large"}`)
			return
		}
		body = (*bp)[:n]
	}
	// A request over the private Unix socket comes from the app bound in
	// this process, whose SDK client local serving built with exactly the
	// emulator's credentials: re-signing every push would check the same
	// signer against itself at a third of the emulator's CPU per push
	// (docs/benchmarks.md, @connections echo), so only its shape is
	// checked. Everything over TCP (tools, tests, Lambda instances) is
	// verified.
	verify := e.sigv4.verify
	if fromInProcess(r) {
		verify = e.sigv4.checkShape
	}
	if aerr := verify(r, body); aerr != nil {
		if aerr.status != http.StatusForbidden || aerr.errorType != "ForbiddenException" {
			e.log.LogAttrs(r.Context(), slog.LevelInfo, "emulator: @connections request refused: sign it with the emulator's credentials (Options.Credentials), or set Options.AnySignature",
				slog.String("method", r.Method), slog.String("connectionId", id), slog.String("errorType", aerr.errorType))
		}
		e.writeError(w, aerr.status, []string{aerr.errorType}, aerr.body)
		return
	}
	if !validID(id) {
		msg, _ := json.Marshal(map[string]string{"message": "Invalid connectionId: " + id})
		e.writeError(w, http.StatusBadRequest, e.hdrBadRequest, string(msg))
		return
	}
	if r.Method == http.MethodPost && !utf8.Valid(body) {
		// Never a text frame that is not UTF-8: browsers and ws drop the
		// connection on one. What AWS does is not confirmed
		// (docs/fidelity.md).
		e.writeError(w, http.StatusBadRequest, e.hdrBadRequest, msgInvalidUTF8)
		return
	}
	c := e.lookup(id)
	if c == nil || c.closing.Load() {
		e.writeGone(w)
		return
	}
	switch r.Method {
	case http.MethodPost:
		e.postToConnection(w, c, body)
	case http.MethodGet:
		e.getConnection(w, c)
	case http.MethodDelete:
		// Queued behind whatever the client has not read: a client that
		// stopped reading delays no one, and DELETE answers at once.
		if !c.initiateClose(closeNormal, reasonDeleted) {
			e.writeGone(w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// postToConnection sends body to c as one text message. This is the path
// of every push, so body is a pooled buffer.
func (e *Emulator) postToConnection(w http.ResponseWriter, c *conn, body []byte) {
	switch err := c.writeText(body); {
	case errors.Is(err, errSendBufferFull):
		e.writeError(w, http.StatusTooManyRequests, e.hdrLimit, `{"message":"Limit Exceeded"}`)
		return
	case err != nil:
		e.writeGone(w)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// writeGone answers 410 GoneException. API Gateway's has an empty body
// (content-length: 0); the SDK reads the type from x-amzn-ErrorType.
func (e *Emulator) writeGone(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = e.hdrJSON
	h["x-amzn-ErrorType"] = e.hdrGone
	h["Content-Length"] = e.hdrZero
	w.WriteHeader(http.StatusGone)
}

// getConnection answers GetConnection for c.
func (e *Emulator) getConnection(w http.ResponseWriter, c *conn) {
	out := getConnectionOutput{
		ConnectedAt:  c.connectedAt.UTC().Format(connectionTimeLayout),
		Identity:     connectionIdentity{SourceIP: c.sourceIP},
		LastActiveAt: time.Unix(0, c.lastActive.Load()).UTC().Format(connectionTimeLayout),
	}
	if c.userAgent != "" {
		out.Identity.UserAgent = &c.userAgent
	}
	body, err := json.Marshal(&out)
	if err != nil {
		e.log.LogAttrs(context.Background(), slog.LevelError, "emulator: encoding GetConnection", slog.String("error", err.Error()))
		e.writeError(w, http.StatusInternalServerError, nil, `{"message":"Internal server error"}`)
		return
	}
	w.Header()["Content-Type"] = e.hdrJSON
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// readFull reads r into p until EOF or p is full; a full p means the body
// may be longer.
func readFull(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
