// Package errorframe encodes the error frame API Gateway sends a WebSocket
// client, byte for byte as API Gateway spaces it:
//
//	{"message": "Forbidden", "connectionId":"L0SM9cOFvHcCIhw=", "requestId":"L0SM9FcIvHcF2OQ="}
//
// It is the one encoder of that frame: the emulator sends it for API
// Gateway's own errors (no route, a body that fails its model, a failed or
// timed-out integration), and the framework answers with the same shape
// for the errors it reports itself (*framework.Error).
package errorframe

import "unicode/utf8"

// Messages of the error frames API Gateway itself sends.
const (
	// Forbidden is sent when no route matches and there is no $default
	// route.
	Forbidden = "Forbidden"
	// InvalidRequestBody is the BAD_REQUEST_BODY gateway response, sent
	// when a message fails its route's request model.
	InvalidRequestBody = "Invalid request body"
	// InternalServerError is sent when the integration fails.
	InternalServerError = "Internal server error"
	// EndpointRequestTimedOut is the INTEGRATION_TIMEOUT gateway response.
	EndpointRequestTimedOut = "Endpoint request timed out"
)

// Append appends the error frame for message, connectionID and requestID
// to b. The three are escaped as JSON strings (HTML characters are not).
func Append(b []byte, message, connectionID, requestID string) []byte {
	b = append(b, `{"message": `...)
	b = appendString(b, message)
	b = append(b, `, "connectionId":`...)
	b = appendString(b, connectionID)
	b = append(b, `, "requestId":`...)
	b = appendString(b, requestID)
	return append(b, '}')
}

// New returns the error frame for message, connectionID and requestID.
func New(message, connectionID, requestID string) []byte {
	return Append(make([]byte, 0, 64+len(message)+len(connectionID)+len(requestID)), message, connectionID, requestID)
}

// appendString appends s as a JSON string, as encoding/json does with HTML
// escaping off: invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
