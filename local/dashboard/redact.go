package dashboard

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Redacted replaces every secret the dashboard would otherwise show.
const Redacted = "[redacted]"

// secretKeyWords are the words that, in a key (an attribute, a JSON
// field, an authorizer context entry), mark its value as a secret.
var secretKeyWords = []string{
	"secret", "token", "password", "passwd", "authorization", "apikey", "api_key", "api-key",
	"signature", "credential", "cookie", "private",
}

// isSecretKey reports whether a value under key k must not be shown.
func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range secretKeyWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

var (
	// SigV4 query parameters of a presigned URL, and API keys sent as
	// query parameters.
	sigV4Param = regexp.MustCompile(`(?i)\b(X-Amz-(?:Signature|Credential|Security-Token)|x-api-key|api_key|apikey)=[^&\s"'<>]*`)
	// An Authorization header's value: SigV4, Bearer, Basic.
	authScheme = regexp.MustCompile(`(?i)\b(AWS4-HMAC-SHA256|Bearer|Basic)\s+[^\s"'<>]+(?:[ ,]+(?:SignedHeaders|Signature)=[^\s"'<>]+)*`)
)

// scrub removes secrets from free text: SigV4 query parameters and
// Authorization header values.
func scrub(s string) string {
	if !strings.ContainsAny(s, "=") && !strings.Contains(strings.ToLower(s), "bearer") && !strings.Contains(strings.ToLower(s), "basic") {
		return s
	}
	s = sigV4Param.ReplaceAllString(s, "${1}="+Redacted)
	return authScheme.ReplaceAllString(s, "${1} "+Redacted)
}

// redactMap returns m with the values of secret keys replaced and the
// others scrubbed.
func redactMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if isSecretKey(k) {
			out[k] = Redacted
		} else {
			out[k] = scrub(v)
		}
	}
	return out
}

// redactJSONValue redacts a decoded JSON value in place and returns it.
func redactJSONValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if isSecretKey(k) {
				x[k] = Redacted
				continue
			}
			x[k] = redactJSONValue(e)
		}
	case []any:
		for i, e := range x {
			x[i] = redactJSONValue(e)
		}
	case string:
		return scrub(x)
	}
	return v
}

// redactData is opaque data (a state, a payload) as the dashboard shows
// it: redacted JSON if it is JSON, else scrubbed text, else a note of its
// size. nil data is nil.
func redactData(data []byte) any {
	if len(data) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil && !dec.More() {
		return redactJSONValue(v)
	}
	if utf8.Valid(data) {
		return scrub(string(data))
	}
	return map[string]any{"binary": len(data)}
}
