package emulator

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/logging"
)

// Credentials is an AWS access key. @connections accepts requests signed
// with it (Signature Version 4), as API Gateway accepts those of a principal
// allowed execute-api:ManageConnections.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// The access key @connections accepts when Options.Credentials is zero.
// Local serving (package local) gives the app these, in process and as
// the Lambda instances' AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and
// `mullet post` signs with them for a loopback endpoint.
const (
	DefaultAccessKeyID     = "local"
	DefaultSecretAccessKey = "local"
)

// DefaultCredentials returns the access key @connections accepts when
// Options.Credentials is zero.
func DefaultCredentials() Credentials {
	return Credentials{AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey}
}

// API Gateway's answers to a request it cannot authenticate.
const (
	// msgSignatureMismatch starts the message of a wrong signature, which
	// API Gateway follows with the canonical string and string to sign it
	// computed (captured, docs/fidelity.md).
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	// msgUnknownKey answers an access key that is not the emulator's.
	msgUnknownKey = "The security token included in the request is invalid."
	// msgMissingToken answers a request without a SigV4 Authorization
	// header.
	msgMissingToken = `{"message":"Missing Authentication Token"}`
)

// emptySHA256 is the hex SHA-256 of an empty payload.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// sigV4Header is the parsed Authorization header of a SigV4 request.
type sigV4Header struct {
	accessKeyID   string
	date          string // yyyymmdd of the credential scope
	region        string
	service       string
	signedHeaders string // as sent: lower case, ';'-separated, sorted
	signature     string
}

// parseSigV4 parses an Authorization header of the form
// "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
// SignedHeaders=a;b, Signature=HEX". It reports false for any other shape.
func parseSigV4(auth string) (sigV4Header, bool) {
	var h sigV4Header
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return h, false
	}
	var credential string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return h, false
		}
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			h.signedHeaders = v
		case "Signature":
			h.signature = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" || h.signedHeaders == "" || h.signature == "" {
		return h, false
	}
	h.accessKeyID, h.date, h.region, h.service = scope[0], scope[1], scope[2], scope[3]
	return h, true
}

// sigV4Verifier checks @connections requests against one access key by
// signing them again with the SDK's own signer and comparing signatures.
type sigV4Verifier struct {
	creds     aws.Credentials
	signer    *v4.Signer // caches derived signing keys
	acceptAny bool       // Options.AnySignature: the shape is enough
}

func newSigV4Verifier(c Credentials, acceptAny bool) *sigV4Verifier {
	if c == (Credentials{}) {
		c = DefaultCredentials()
	}
	return &sigV4Verifier{
		creds:     aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey},
		signer:    v4.NewSigner(),
		acceptAny: acceptAny,
	}
}

// authError is a refused request: its status, x-amzn-ErrorType and body.
type authError struct {
	status    int
	errorType string
	body      string
}

// verify checks r's signature over body (nil for a request without one).
// It returns nil when the request is authenticated.
func (v *sigV4Verifier) verify(r *http.Request, body []byte) *authError {
	h, ok := parseSigV4(r.Header.Get("Authorization"))
	if !ok {
		return &authError{http.StatusForbidden, "ForbiddenException", msgMissingToken}
	}
	if v.acceptAny {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(h.accessKeyID), []byte(v.creds.AccessKeyID)) != 1 {
		return &authError{http.StatusForbidden, "UnrecognizedClientException", jsonMessage(msgUnknownKey)}
	}
	signingTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return v.mismatch("", "")
	}
	// The request as the client signed it: only the headers it signed, the
	// path as it escaped it (the signer escapes it once more, so '@' is
	// %40 and an escaped '=' is %253D in the canonical path), and the
	// length if it was signed.
	req := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: make(http.Header),
	}
	for name := range strings.SplitSeq(h.signedHeaders, ";") {
		switch name {
		case "host":
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			if vals := r.Header.Values(name); vals != nil {
				req.Header[http.CanonicalHeaderKey(name)] = vals
			}
		}
	}
	payloadHash := emptySHA256
	if len(body) > 0 {
		sum := sha256.Sum256(body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	creds := v.creds
	creds.SessionToken = r.Header.Get("X-Amz-Security-Token") // any token: the emulator has no STS
	var canonical, stringToSign string
	err = v.signer.SignHTTP(context.Background(), creds, req, payloadHash, h.service, h.region, signingTime,
		func(o *v4.SignerOptions) {
			o.LogSigning = true
			o.Logger = logging.LoggerFunc(func(_ logging.Classification, _ string, args ...any) {
				if len(args) >= 2 {
					canonical, _ = args[0].(string)
					stringToSign, _ = args[1].(string)
				}
			})
		})
	if err != nil {
		return v.mismatch("", "")
	}
	want, ok := parseSigV4(req.Header.Get("Authorization"))
	if !ok || want.date != h.date ||
		subtle.ConstantTimeCompare([]byte(want.signedHeaders), []byte(h.signedHeaders)) != 1 ||
		subtle.ConstantTimeCompare([]byte(want.signature), []byte(h.signature)) != 1 {
		return v.mismatch(canonical, stringToSign)
	}
	return nil
}

// mismatch is API Gateway's answer to a wrong signature: 403
// InvalidSignatureException, with the canonical string and string to sign
// it computed, as AWS's message has them.
func (v *sigV4Verifier) mismatch(canonical, stringToSign string) *authError {
	msg := msgSignatureMismatch
	if canonical != "" {
		msg += fmt.Sprintf("\n\nThe Canonical String for this request should have been\n'%s'\n\nThe String-to-Sign should have been\n'%s'\n", canonical, stringToSign)
	}
	return &authError{http.StatusForbidden, "InvalidSignatureException", jsonMessage(msg)}
}

// jsonMessage is the body {"message":msg}.
func jsonMessage(msg string) string {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	return string(b)
}
