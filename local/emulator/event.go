package emulator

import (
	cryptorand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/manifest"
)

// Values of requestContext.eventType.
const (
	eventConnect    = "CONNECT"
	eventMessage    = "MESSAGE"
	eventDisconnect = "DISCONNECT"
)

// requestTimeLayout is the layout of requestContext.requestTime, e.g.
// "20/Jan/2024:11:55:08 +0000".
const requestTimeLayout = "02/Jan/2006:15:04:05 +0000"

// idLen is the length of connection, request and message IDs: 16
// characters of base64 (11 bytes, one '=' of padding), e.g.
// "L0SM9cOFvHcCIhw=".
const idLen = 16

// idAlphabet is the URL-safe base64 alphabet (RFC 4648 section 5), the one
// real connection IDs use ("eHrdFcnvvHcCE-w=", "FYnvDeD_NjMCKlg="), so
// that IDs need no escaping in URLs. idLast holds the characters whose
// base64 value has its two low bits clear, so that an ID is canonical
// base64 of 11 bytes.
const (
	idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	idLast     = "AEIMQUYcgkosw048"
)

// newID returns a random ID of AWS's shape.
func newID() string {
	var b [idLen]byte
	fillRandom(b[:idLen-2], idAlphabet)
	fillRandom(b[idLen-2:idLen-1], idLast)
	b[idLen-1] = '='
	return string(b[:])
}

// messageIDs returns a new request ID and message ID for one message. They
// come from a ChaCha8 generator seeded from crypto/rand (so they are as
// unpredictable as newID's), one per worker at a time, rather than from
// two crypto/rand reads per ID: the echo benchmark (mullet bench -route
// echo) showed those reads on every message's path.
func (e *Emulator) messageIDs() (requestID, messageID string) {
	rng := e.rngs.Get().(*rand.ChaCha8)
	var b [2 * idLen]byte
	var bits uint64
	left := 0
	next := func() byte {
		if left == 0 {
			bits, left = rng.Uint64(), 8
		}
		c := byte(bits)
		bits >>= 8
		left--
		return c
	}
	const limit = 256 - 256%len(idAlphabet) // reject bytes >= limit to avoid modulo bias
	for _, id := range [2][]byte{b[:idLen], b[idLen:]} {
		for i := 0; i < idLen-2; {
			if c := next(); int(c) < limit {
				id[i] = idAlphabet[int(c)%len(idAlphabet)]
				i++
			}
		}
		id[idLen-2] = idLast[int(next())%len(idLast)] // 16 divides 256: no bias
		id[idLen-1] = '='
	}
	e.rngs.Put(rng)
	s := string(b[:])
	return s[:idLen], s[idLen:]
}

// requestTime is requestContext.requestTime for one second, which every
// event of that second shares.
type requestTime struct {
	unix int64
	text string
}

// requestTimeOf formats now as requestContext.requestTime, reusing the
// text of the last second asked for.
func (e *Emulator) requestTimeOf(now time.Time) string {
	sec := now.Unix()
	if t := e.stamp.Load(); t != nil && t.unix == sec {
		return t.text
	}
	t := &requestTime{unix: sec, text: now.UTC().Format(requestTimeLayout)}
	e.stamp.Store(t)
	return t.text
}

// validID reports whether id has the shape of a connection ID: 16
// characters of URL-safe base64 ending in '='.
func validID(id string) bool {
	if len(id) != idLen || id[idLen-1] != '=' {
		return false
	}
	for i := 0; i < idLen-1; i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// requestContext returns the fields every event of c shares.
func (c *conn) requestContext(routeKey, eventType, requestID string, now time.Time) events.APIGatewayWebsocketProxyRequestContext {
	return events.APIGatewayWebsocketProxyRequestContext{
		RouteKey:          routeKey,
		EventType:         eventType,
		ExtendedRequestID: requestID,
		RequestTime:       c.e.requestTimeOf(now),
		MessageDirection:  "IN",
		Stage:             c.e.stage,
		ConnectedAt:       c.connectedAt.UnixMilli(),
		RequestTimeEpoch:  now.UnixMilli(),
		Identity: events.APIGatewayRequestIdentity{
			SourceIP:  c.sourceIP,
			UserAgent: c.userAgent,
		},
		RequestID:    requestID,
		DomainName:   c.domainName,
		ConnectionID: c.id,
		APIID:        c.e.apiID,
	}
}

// connectEvent returns the $connect event for the upgrade request r. Like
// API Gateway it carries the request's headers and query string, plus the
// X-Forwarded-* headers API Gateway's front end adds.
func (c *conn) connectEvent(r *http.Request) *events.APIGatewayWebsocketProxyRequest {
	ev := &events.APIGatewayWebsocketProxyRequest{
		RequestContext: c.requestContext(manifest.RouteConnect, eventConnect, newID(), c.connectedAt),
	}
	multi := make(map[string][]string, len(r.Header)+4)
	for k, vs := range r.Header {
		multi[k] = append([]string(nil), vs...)
	}
	multi["Host"] = []string{r.Host}
	if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
		multi["X-Forwarded-For"] = []string{prior[len(prior)-1] + ", " + c.sourceIP}
	} else {
		multi["X-Forwarded-For"] = []string{c.sourceIP}
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	multi["X-Forwarded-Proto"] = []string{proto}
	if len(r.Header.Values("X-Amzn-Trace-Id")) == 0 {
		// API Gateway's front end adds an X-Ray trace header ([integreq]
		// in docs/fidelity.md); one the client sent is passed on as is.
		multi["X-Amzn-Trace-Id"] = []string{newTraceID(c.connectedAt)}
	}
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			multi["X-Forwarded-Port"] = []string{port}
		}
	}
	ev.MultiValueHeaders = multi
	ev.Headers = lastValues(multi)
	if q := r.URL.Query(); len(q) > 0 {
		ev.MultiValueQueryStringParameters = q
		ev.QueryStringParameters = lastValues(q)
	}
	return ev
}

// newTraceID returns an X-Ray trace header value with a new root trace ID:
// "Root=1-", the start time in seconds as 8 hex digits, "-", 96 random bits
// as 24 hex digits.
func newTraceID(at time.Time) string {
	var r [12]byte
	_, _ = cryptorand.Read(r[:]) // never fails since Go 1.24
	return fmt.Sprintf("Root=1-%08x-%x", at.Unix(), r)
}

// messageEvent returns the event for one message routed to routeKey. The
// event's Body shares body's bytes: the message is handed over whole and
// nothing writes to it once it is read.
func (c *conn) messageEvent(routeKey, requestID, messageID string, body []byte) *events.APIGatewayWebsocketProxyRequest {
	ev := &events.APIGatewayWebsocketProxyRequest{
		RequestContext: c.requestContext(routeKey, eventMessage, requestID, c.e.now()),
		Body:           unsafe.String(unsafe.SliceData(body), len(body)),
	}
	ev.RequestContext.MessageID = messageID
	return ev
}

// disconnectEvent returns the $disconnect event. Its headers are the fixed
// set API Gateway sends with $disconnect (see aws-lambda-go's
// events/testdata/apigw-websocket-request-disconnect.json).
func (c *conn) disconnectEvent(code int, reason string) *events.APIGatewayWebsocketProxyRequest {
	ev := &events.APIGatewayWebsocketProxyRequest{
		RequestContext: c.requestContext(manifest.RouteDisconnect, eventDisconnect, newID(), c.e.now()),
		Headers: map[string]string{
			"Host":            c.domainName,
			"x-api-key":       "",
			"X-Forwarded-For": "",
			"x-restapi":       "",
		},
		MultiValueHeaders: map[string][]string{
			"Host":            {c.domainName},
			"x-api-key":       {""},
			"X-Forwarded-For": {""},
			"x-restapi":       {""},
		},
	}
	ev.RequestContext.DisconnectStatusCode = int64(code)
	ev.RequestContext.DisconnectReason = &reason
	return ev
}

// lastValues maps each key to its last value, as API Gateway fills the
// single-value variants of headers and query parameters.
func lastValues(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, vs := range m {
		if len(vs) > 0 {
			out[k] = vs[len(vs)-1]
		}
	}
	return out
}
