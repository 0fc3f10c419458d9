package emulator

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gobwas/ws"
)

// serveWebSocket runs $connect and, if the integration accepts, completes
// the WebSocket handshake and serves the connection until it ends.
func (e *Emulator) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	// Reject a malformed handshake before $connect, so that the
	// integration never sees a connection that cannot be established:
	// everything the upgrader checks is checked here first, and no
	// $connect runs (so no record is written) for a handshake that would
	// fail after it.
	switch {
	case !isUpgrade(r) || len(r.Header.Values("Sec-WebSocket-Version")) != 1 || r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		e.writeError(w, http.StatusUpgradeRequired, nil, `{"message":"Upgrade Required"}`)
		return
	case !r.ProtoAtLeast(1, 1), r.Host == "",
		len(r.Header.Values("Upgrade")) != 1,
		len(r.Header.Values("Sec-WebSocket-Key")) != 1 || !validKey(r.Header.Get("Sec-WebSocket-Key")),
		!validTokenLists(r.Header.Values("Sec-WebSocket-Protocol")):
		e.writeError(w, http.StatusBadRequest, nil, `{"message":"Bad Request"}`)
		return
	}
	// What API Gateway checks itself before it invokes $connect: the
	// throttles, IAM, API keys and their usage plans.
	admitted, refused := e.gate.admit(r)
	if refused != nil {
		if e.log.Enabled(r.Context(), slog.LevelInfo) {
			e.log.LogAttrs(r.Context(), slog.LevelInfo, "emulator: handshake refused before $connect",
				slog.Int("status", refused.status), slog.String("errorType", refused.errorType), slog.String("body", refused.body))
		}
		e.writeError(w, refused.status, []string{refused.errorType}, refused.body)
		return
	}
	if !e.begin() {
		e.writeError(w, http.StatusServiceUnavailable, nil, `{"message":"Service Unavailable"}`)
		return
	}
	established := false
	defer func() {
		if !established {
			e.connWG.Done()
		}
	}()

	now := e.now()
	c := &conn{
		e:           e,
		id:          newID(),
		sourceIP:    remoteIP(r.RemoteAddr),
		userAgent:   r.UserAgent(),
		domainName:  r.Host,
		connectedAt: now,
	}
	c.lastActive.Store(now.UnixNano())

	var subprotocol string
	if e.connectR != nil {
		ev := c.connectEvent(r)
		admitted.fill(&ev.RequestContext.Identity)
		resp, _, err := e.callInvoke(ev)
		switch {
		case err != nil:
			// An integration that throws gives 502 on the handshake in
			// API Gateway, not 500.
			e.log.LogAttrs(r.Context(), slog.LevelWarn, "emulator: $connect integration failed; handshake rejected with 502",
				slog.String("connectionId", c.id), slog.String("error", err.Error()))
			e.writeError(w, http.StatusBadGateway, nil, `{"message":"Internal server error"}`)
			return
		case resp.StatusCode != 0 && (resp.StatusCode < 200 || resp.StatusCode > 299):
			status := resp.StatusCode
			if status < 300 || status > 599 {
				status = http.StatusInternalServerError // not an HTTP status a handshake can end with
			}
			if e.log.Enabled(r.Context(), slog.LevelDebug) {
				e.log.LogAttrs(r.Context(), slog.LevelDebug, "emulator: $connect rejected the connection",
					slog.String("connectionId", c.id), slog.Int("statusCode", resp.StatusCode))
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(resp.Body))
			return
		}
		subprotocol = resp.Headers["Sec-WebSocket-Protocol"]
		if v := resp.MultiValueHeaders["Sec-WebSocket-Protocol"]; subprotocol == "" && len(v) > 0 {
			subprotocol = v[0]
		}
	}

	// The upgrader reads only the first Connection line; RFC 7230 lets the
	// token be on any, which isUpgrade accepted.
	r.Header["Connection"] = []string{"Upgrade"}
	u := ws.HTTPUpgrader{Timeout: writeTimeout}
	if subprotocol != "" {
		u.Protocol = func(p string) bool { return p == subprotocol }
	}
	// Register before the client can see the handshake response, so that
	// a Lambda the client triggers right away can already push to it.
	// Holding wmu makes such pushes wait for the handshake to complete.
	c.wmu.Lock()
	registered := e.register(c)
	nc, rw, _, err := u.Upgrade(r, w)
	if err != nil {
		c.closeSent = true
		c.closing.Store(true)
		c.wmu.Unlock()
		e.unregister(c)
		if nc != nil {
			_ = nc.Close()
		}
		e.log.LogAttrs(r.Context(), slog.LevelInfo, "emulator: handshake failed after $connect",
			slog.String("connectionId", c.id), slog.String("error", err.Error()))
		return
	}
	c.nc, c.br = nc, rw.Reader
	c.start = time.Now()
	c.startWriter()
	c.wmu.Unlock()
	established = true
	if !registered {
		// Closed while $connect ran: the connection was established, so it
		// is closed like the others and gets its $disconnect.
		c.initiateClose(closeGoingAway, reasonGoingAway)
	} else if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.log.LogAttrs(context.Background(), slog.LevelDebug, "emulator: connected",
			slog.String("connectionId", c.id), slog.String("sourceIp", c.sourceIP))
	}
	c.serve()
}

// isUpgrade reports whether r asks for a WebSocket upgrade: a GET whose
// Connection names "upgrade" (on any line) and whose Upgrade is
// "websocket" alone, as the upgrader requires (so not "h2c, websocket").
func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		headerHasToken(r.Header, "Connection", "upgrade") &&
		strings.EqualFold(strings.TrimSpace(r.Header.Get("Upgrade")), "websocket")
}

// validTokenLists reports whether each value is a comma-separated list of
// HTTP tokens, as the upgrader parses Sec-WebSocket-Protocol.
func validTokenLists(values []string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				return false
			}
			for i := 0; i < len(t); i++ {
				if c := t[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
					return false
				}
			}
		}
	}
	return true
}

// validKey reports whether a Sec-WebSocket-Key is base64 of 16 bytes
// (RFC 6455 section 4.1).
func validKey(key string) bool {
	if len(key) != 24 || !strings.HasSuffix(key, "==") {
		return false
	}
	_, err := base64.StdEncoding.DecodeString(key)
	return err == nil
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// remoteIP returns the IP of a RemoteAddr ("ip:port"). Forwarding headers
// are ignored: API Gateway's sourceIp is the TCP peer.
func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
