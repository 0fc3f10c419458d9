package lambdaruntime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// MalformedResponseError is a function's response that is not a valid
// Lambda proxy response. API Gateway logs such an invocation as
// "Execution failed due to configuration error: Malformed Lambda proxy
// response" and answers as for a failed invocation: the "Internal server
// error" frame on a message route.
type MalformedResponseError struct {
	// Reason says what is wrong, e.g. `"statusCode" is a string, not a number`.
	Reason string
	// Response is the start of the response as the function returned it
	// (at most 256 bytes).
	Response string
}

func (e *MalformedResponseError) Error() string {
	return fmt.Sprintf("lambdaruntime: malformed Lambda proxy response (API Gateway: \"Execution failed due to configuration error: Malformed Lambda proxy response\"): %s; the response was %s", e.Reason, e.Response)
}

// proxyResponseFields are the keys a Lambda proxy response may have.
var proxyResponseFields = []string{"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}

// DecodeProxyResponse checks that out, a function's response payload, has
// the shape of a Lambda proxy response, the way API Gateway checks it, and
// decodes it. The shape: a JSON object whose keys are only statusCode (an
// integer), headers (an object of strings), multiValueHeaders (an object of
// arrays of strings), body (a string) and isBase64Encoded (a boolean); any
// of them may be absent or null (aws-lambda-go writes "headers":null). A
// JSON null, a string, an array, a number, a key of another name, or a
// value of another type gives a *MalformedResponseError.
func DecodeProxyResponse(out []byte) (events.APIGatewayProxyResponse, error) {
	var resp events.APIGatewayProxyResponse
	malformed := func(format string, args ...any) (events.APIGatewayProxyResponse, error) {
		shown := out
		if len(shown) > 256 {
			shown = shown[:256]
		}
		return events.APIGatewayProxyResponse{}, &MalformedResponseError{Reason: fmt.Sprintf(format, args...), Response: string(shown)}
	}
	var fields map[string]json.RawMessage
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return malformed("it is %s, not a JSON object", jsonKind(trimmed))
	}
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return malformed("it is not valid JSON: %v", err)
	}
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		raw := fields[key]
		if !slices.Contains(proxyResponseFields, key) {
			return malformed("it has the key %q; a proxy response has only %s", key, strings.Join(proxyResponseFields, ", "))
		}
		if string(raw) == "null" {
			continue
		}
		var err error
		switch key {
		case "statusCode":
			var f float64
			if err = json.Unmarshal(raw, &f); err == nil && (f != math.Trunc(f) || f < 0 || f > math.MaxInt32) {
				return malformed("\"statusCode\" is %s, not an integer status code", raw)
			}
		case "headers":
			var h map[string]string
			err = json.Unmarshal(raw, &h)
		case "multiValueHeaders":
			var h map[string][]string
			err = json.Unmarshal(raw, &h)
		case "body":
			var b string
			err = json.Unmarshal(raw, &b)
		case "isBase64Encoded":
			var b bool
			err = json.Unmarshal(raw, &b)
		}
		if err != nil {
			return malformed("%q is %s, which does not fit its type", key, jsonKind(raw))
		}
	}
	if err := json.Unmarshal(trimmed, &resp); err != nil {
		return malformed("%v", err)
	}
	return resp, nil
}

// jsonKind names the kind of a JSON value for an error message.
func jsonKind(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "empty"
	}
	if !json.Valid(v) {
		return "not JSON"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
