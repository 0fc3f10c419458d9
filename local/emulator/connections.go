package emulator

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

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
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// serveConnections serves the @connections API for one connection ID:
// POST (PostToConnection), GET (GetConnection), DELETE (DeleteConnection).
func (e *Emulator) serveConnections(w http.ResponseWriter, r *http.Request, id string) {
	if !hasSigV4(r.Header.Get("Authorization")) {
		e.writeError(w, http.StatusForbidden, e.hdrForbidden, `{"message":"Missing Authentication Token"}`)
		return
	}
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
	default:
		// API Gateway answers a method no resource defines like a missing
		// resource.
		e.writeError(w, http.StatusForbidden, e.hdrForbidden, `{"message":"Missing Authentication Token"}`)
		return
	}
	if !validID(id) {
		msg, _ := json.Marshal(map[string]string{"message": "Invalid connectionId: " + id})
		e.writeError(w, http.StatusBadRequest, e.hdrBadRequest, string(msg))
		return
	}
	c := e.lookup(id)
	if c == nil || c.closing.Load() {
		e.writeError(w, http.StatusGone, e.hdrGone, `{"message":null}`)
		return
	}
	switch r.Method {
	case http.MethodPost:
		e.postToConnection(w, r, c)
	case http.MethodGet:
		e.getConnection(w, c)
	case http.MethodDelete:
		if !c.initiateClose(closeNormal, "") {
			e.writeError(w, http.StatusGone, e.hdrGone, `{"message":null}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// postToConnection sends the request body to c as one text message. This is
// the path of every push, so it reuses its buffers.
func (e *Emulator) postToConnection(w http.ResponseWriter, r *http.Request, c *conn) {
	if r.ContentLength > int64(e.maxMessage) {
		e.writeError(w, http.StatusRequestEntityTooLarge, e.hdrTooLarge, `{"message":"Request entity too large"}`)
		return
	}
	bp := e.bodies.Get().(*[]byte)
	defer e.bodies.Put(bp)
	n, err := readFull(r.Body, *bp)
	if err != nil {
		e.log.LogAttrs(r.Context(), slog.LevelInfo, "emulator: reading @connections body failed",
			slog.String("connectionId", c.id), slog.String("error", err.Error()))
		e.writeError(w, http.StatusBadRequest, e.hdrBadRequest, `{"message":"Could not read the request body"}`)
		return
	}
	if n > e.maxMessage {
		e.writeError(w, http.StatusRequestEntityTooLarge, e.hdrTooLarge, `{"message":"Request entity too large"}`)
		return
	}
	if err := c.writeText((*bp)[:n]); err != nil {
		e.writeError(w, http.StatusGone, e.hdrGone, `{"message":null}`)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// getConnection answers GetConnection for c.
func (e *Emulator) getConnection(w http.ResponseWriter, c *conn) {
	out := getConnectionOutput{
		ConnectedAt:  c.connectedAt.UTC().Format(connectionTimeLayout),
		Identity:     connectionIdentity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
		LastActiveAt: time.Unix(0, c.lastActive.Load()).UTC().Format(connectionTimeLayout),
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

// hasSigV4 reports whether an Authorization header has the shape of an AWS
// Signature Version 4 header. The signature itself is not verified: the
// emulator accepts any credentials.
func hasSigV4(auth string) bool {
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	return ok &&
		strings.Contains(rest, "Credential=") &&
		strings.Contains(rest, "SignedHeaders=") &&
		strings.Contains(rest, "Signature=")
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
