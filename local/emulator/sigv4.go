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
	"strconv"
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

// sigV4Verifier checks requests against a set of access keys by signing
// them again with the SDK's own signer and comparing signatures: the
// @connections API (Authorization header) and, for an API that requires
// IAM on $connect, the upgrade request (Authorization header or a
// presigned URL).
type sigV4Verifier struct {
	creds     aws.Credentials            // the first key: Emulator.Credentials
	keys      map[string]aws.Credentials // every key, by access key ID
	signer    *v4.Signer                 // caches derived signing keys
	acceptAny bool                       // Options.AnySignature: the shape is enough
}

func newSigV4Verifier(c Credentials, acceptAny bool) *sigV4Verifier {
	if c == (Credentials{}) {
		c = DefaultCredentials()
	}
	return newSigV4VerifierFor([]Credentials{c}, acceptAny)
}

// newSigV4VerifierFor accepts any of keys, the first of which is the
// verifier's own (Emulator.Credentials).
func newSigV4VerifierFor(keys []Credentials, acceptAny bool) *sigV4Verifier {
	v := &sigV4Verifier{keys: make(map[string]aws.Credentials, len(keys)), signer: v4.NewSigner(), acceptAny: acceptAny}
	for i, c := range keys {
		ac := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
		if i == 0 {
			v.creds = ac
		}
		v.keys[c.AccessKeyID] = ac
	}
	return v
}

// lookup finds an access key's secret, comparing in constant time.
func (v *sigV4Verifier) lookup(accessKeyID string) (aws.Credentials, bool) {
	var found aws.Credentials
	ok := false
	for id, c := range v.keys {
		if subtle.ConstantTimeCompare([]byte(id), []byte(accessKeyID)) == 1 {
			found, ok = c, true
		}
	}
	return found, ok
}

// authError is a refused request: its status, x-amzn-ErrorType and body.
type authError struct {
	status    int
	errorType string
	body      string
}

// signatureWindow is how far a signing time may be from the clock: AWS
// refuses a signature more than 5 minutes old or ahead.
const signatureWindow = 5 * time.Minute

// maxPresignExpires is the longest X-Amz-Expires SigV4 allows: 7 days.
const maxPresignExpires = 7 * 24 * time.Hour

// amzDateLayout is the layout of X-Amz-Date.
const amzDateLayout = "20060102T150405Z"

// verify checks the signature of an @connections request r over body (nil
// for a request without one). It returns nil when the request is
// authenticated. The signing time is not checked against the clock.
// checkShape accepts any request with a SigV4 Authorization header, as
// AnySignature does.
func (v *sigV4Verifier) checkShape(r *http.Request, _ []byte) *authError {
	if _, ok := parseSigV4(r.Header.Get("Authorization")); !ok {
		return &authError{http.StatusForbidden, "ForbiddenException", msgMissingToken}
	}
	return nil
}

func (v *sigV4Verifier) verify(r *http.Request, body []byte) *authError {
	_, aerr := v.check(r, body, verifyOptions{})
	return aerr
}

// verifyOptions tells check what besides the signature to check.
type verifyOptions struct {
	// now, if set, is the clock the signing time must be within
	// signatureWindow of, or, for a presigned URL, inside its
	// X-Amz-Expires.
	now time.Time
	// presign accepts a presigned URL (the X-Amz-* query parameters) when
	// there is no Authorization header.
	presign bool
	// service, if set, is the only service the credential scope may name.
	service string
}

// presignedQuery reports whether r's query carries a SigV4 presigned
// signature.
func presignedQuery(r *http.Request) bool {
	return r.URL.Query().Get("X-Amz-Algorithm") != ""
}

// check verifies r and returns the access key ID that signed it.
func (v *sigV4Verifier) check(r *http.Request, body []byte, o verifyOptions) (string, *authError) {
	presigned := o.presign && r.Header.Get("Authorization") == "" && presignedQuery(r)
	var (
		h      sigV4Header
		ok     bool
		date   string
		expiry time.Duration
		query  = r.URL.RawQuery
	)
	if presigned {
		q := r.URL.Query()
		if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
			return "", &authError{http.StatusForbidden, "ForbiddenException", jsonMessage("Forbidden")}
		}
		h, ok = parseSigV4("AWS4-HMAC-SHA256 Credential=" + q.Get("X-Amz-Credential") +
			", SignedHeaders=" + q.Get("X-Amz-SignedHeaders") + ", Signature=" + q.Get("X-Amz-Signature"))
		date = q.Get("X-Amz-Date")
		expiry = signatureWindow
		if e := q.Get("X-Amz-Expires"); e != "" {
			secs, err := strconv.Atoi(e)
			if err != nil || secs < 0 || time.Duration(secs)*time.Second > maxPresignExpires {
				return "", &authError{http.StatusForbidden, "InvalidSignatureException", jsonMessage("X-Amz-Expires must be a number of seconds from 0 to 604800.")}
			}
			expiry = time.Duration(secs) * time.Second
		}
		// The query as the client signed it: without its signature.
		q.Del("X-Amz-Signature")
		query = q.Encode()
	} else {
		h, ok = parseSigV4(r.Header.Get("Authorization"))
		date = r.Header.Get("X-Amz-Date")
	}
	if !ok {
		return "", &authError{http.StatusForbidden, "ForbiddenException", msgMissingToken}
	}
	if v.acceptAny {
		return h.accessKeyID, nil
	}
	creds, known := v.lookup(h.accessKeyID)
	if !known {
		return "", &authError{http.StatusForbidden, "UnrecognizedClientException", jsonMessage(msgUnknownKey)}
	}
	if o.service != "" && h.service != o.service {
		return "", &authError{http.StatusForbidden, "InvalidSignatureException", jsonMessage(fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", o.service))}
	}
	signingTime, err := time.Parse(amzDateLayout, date)
	if err != nil {
		return "", v.mismatch("", "")
	}
	if !o.now.IsZero() {
		if aerr := checkSigningTime(signingTime, o.now, presigned, expiry); aerr != nil {
			return "", aerr
		}
	}
	// The request as the client signed it: only the headers it signed, the
	// path as it escaped it (the signer escapes it once more, so '@' is
	// %40 and an escaped '=' is %253D in the canonical path), and the
	// length if it was signed.
	req := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: query},
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
	// Any session token: the emulator has no STS.
	if presigned {
		creds.SessionToken = r.URL.Query().Get("X-Amz-Security-Token")
	} else {
		creds.SessionToken = r.Header.Get("X-Amz-Security-Token")
	}
	var canonical, stringToSign string
	logSigning := func(o *v4.SignerOptions) {
		o.LogSigning = true
		o.Logger = logging.LoggerFunc(func(_ logging.Classification, _ string, args ...any) {
			if len(args) >= 2 {
				canonical, _ = args[0].(string)
				stringToSign, _ = args[1].(string)
			}
		})
	}
	var want sigV4Header
	if presigned {
		signed, _, err := v.signer.PresignHTTP(context.Background(), creds, req, payloadHash, h.service, h.region, signingTime, logSigning)
		if err != nil {
			return "", v.mismatch("", "")
		}
		u, err := url.Parse(signed)
		if err != nil {
			return "", v.mismatch("", "")
		}
		q := u.Query()
		want, ok = parseSigV4("AWS4-HMAC-SHA256 Credential=" + q.Get("X-Amz-Credential") +
			", SignedHeaders=" + q.Get("X-Amz-SignedHeaders") + ", Signature=" + q.Get("X-Amz-Signature"))
	} else {
		if err := v.signer.SignHTTP(context.Background(), creds, req, payloadHash, h.service, h.region, signingTime, logSigning); err != nil {
			return "", v.mismatch("", "")
		}
		want, ok = parseSigV4(req.Header.Get("Authorization"))
	}
	if !ok || want.date != h.date ||
		subtle.ConstantTimeCompare([]byte(want.signedHeaders), []byte(h.signedHeaders)) != 1 ||
		subtle.ConstantTimeCompare([]byte(want.signature), []byte(h.signature)) != 1 {
		return "", v.mismatch(canonical, stringToSign)
	}
	return h.accessKeyID, nil
}

// checkSigningTime refuses a signature made too long ago (or ahead), as
// AWS does: a signed request more than 5 minutes from the clock, a
// presigned URL past its X-Amz-Expires.
func checkSigningTime(signed, now time.Time, presigned bool, expiry time.Duration) *authError {
	now = now.UTC().Truncate(time.Second)
	switch {
	case presigned && now.After(signed.Add(expiry)):
		return &authError{http.StatusForbidden, "InvalidSignatureException", jsonMessage(fmt.Sprintf(
			"Signature expired: %s is now earlier than %s (%s - %d sec.)",
			signed.Format(amzDateLayout), now.Add(-expiry).Format(amzDateLayout), now.Format(amzDateLayout), int(expiry/time.Second)))}
	case !presigned && signed.Before(now.Add(-signatureWindow)):
		return &authError{http.StatusForbidden, "InvalidSignatureException", jsonMessage(fmt.Sprintf(
			"Signature expired: %s is now earlier than %s (%s - 5 min.)",
			signed.Format(amzDateLayout), now.Add(-signatureWindow).Format(amzDateLayout), now.Format(amzDateLayout)))}
	case signed.After(now.Add(signatureWindow)):
		return &authError{http.StatusForbidden, "InvalidSignatureException", jsonMessage(fmt.Sprintf(
			"Signature not yet current: %s is still later than %s (%s + 5 min.)",
			signed.Format(amzDateLayout), now.Add(signatureWindow).Format(amzDateLayout), now.Format(amzDateLayout)))}
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
