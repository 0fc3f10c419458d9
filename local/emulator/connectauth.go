package emulator

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/manifest"
)

// Principal is an IAM principal whose Signature Version 4 signatures the
// WebSocket upgrade is accepted with, when the manifest requires IAM on
// $connect (manifest.ConnectAuth.IAM). Its fields become the $connect
// event's requestContext.identity, as API Gateway fills it.
type Principal struct {
	// Credentials is the principal's access key. Required.
	Credentials
	// AccountID is requestContext.identity.accountId. Default
	// "000000000000".
	AccountID string
	// UserID is requestContext.identity.caller and .user: an IAM user's
	// unique ID (AIDA...) or, for an assumed role, "AROA...:session".
	// Default: "AIDA" followed by 17 characters derived from the access
	// key ID.
	UserID string
	// UserARN is requestContext.identity.userArn. Default
	// arn:aws:iam::{AccountID}:user/{AccessKeyID}.
	UserARN string
}

// APIKey is an API key $connect accepts when the manifest requires API
// keys (manifest.ConnectAuth.APIKeys), as an API Gateway API key in one of
// the manifest's usage plans.
type APIKey struct {
	// Name names the key (a tenant), for logs.
	Name string `json:"name"`
	// Value is the key the client sends (x-api-key): 20 to 128
	// characters, as API Gateway requires. Required.
	Value string `json:"value"`
	// Plan is the usage plan the key belongs to: one the manifest
	// declares. Required.
	Plan string `json:"plan"`
	// ID is requestContext.identity.apiKeyId. Default: 10 lowercase
	// letters and digits derived from Value, like an API Gateway key ID.
	ID string `json:"id,omitempty"`
}

// DefaultConnectThrottle is the account's quota of new connections per
// second, which API Gateway applies across all WebSocket APIs of an account
// in a Region: 500 a second, which cannot be raised.
var DefaultConnectThrottle = manifest.Throttle{RatePerSecond: 500, Burst: 500}

// API Gateway's answers on the handshake for what it checks before
// $connect runs.
const (
	msgForbidden       = `{"message":"Forbidden"}`
	msgTooManyRequests = `{"message":"Too Many Requests"}`
	msgLimitExceeded   = `{"message":"Limit Exceeded"}`
)

// connectGate decides what API Gateway decides before it invokes
// $connect: the stage's and account's throttle, IAM, API keys and their
// usage plans.
type connectGate struct {
	throttle   *tokenBucket
	iam        *sigV4Verifier           // nil: the API does not require IAM
	principals map[string]Principal     // by access key ID
	keys       map[string]*apiKeyBudget // by value; nil: no API keys required
	now        func() time.Time
}

// apiKeyBudget is one key and what its usage plan lets it spend.
type apiKeyBudget struct {
	key    APIKey
	bucket *tokenBucket    // nil: the plan has no throttle
	quota  *manifest.Quota // nil: the plan has no quota

	mu     sync.Mutex
	period time.Time // start of the quota period being counted
	used   int
}

func newConnectGate(m *manifest.Manifest, o *Options, now func() time.Time) (*connectGate, error) {
	throttle := DefaultConnectThrottle
	if o.ConnectThrottle != nil {
		throttle = *o.ConnectThrottle
		if throttle.RatePerSecond <= 0 || throttle.Burst <= 0 {
			return nil, errors.New("emulator: Options.ConnectThrottle needs a positive rate and burst")
		}
	}
	g := &connectGate{throttle: newTokenBucket(throttle), now: now}
	auth := m.ConnectAuth
	if auth != nil && auth.IAM {
		principals := o.ConnectPrincipals
		if len(principals) == 0 {
			creds := o.Credentials
			if creds == (Credentials{}) {
				creds = DefaultCredentials()
			}
			principals = []Principal{{Credentials: creds}}
		}
		g.principals = make(map[string]Principal, len(principals))
		keys := make([]Credentials, 0, len(principals))
		for _, p := range principals {
			if p.AccessKeyID == "" || p.SecretAccessKey == "" {
				return nil, errors.New("emulator: Options.ConnectPrincipals: each principal needs an AccessKeyID and a SecretAccessKey")
			}
			if _, dup := g.principals[p.AccessKeyID]; dup {
				return nil, fmt.Errorf("emulator: Options.ConnectPrincipals: access key %q appears twice", p.AccessKeyID)
			}
			g.principals[p.AccessKeyID] = p.withDefaults()
			keys = append(keys, p.Credentials)
		}
		g.iam = newSigV4VerifierFor(keys, false)
	} else if len(o.ConnectPrincipals) > 0 {
		return nil, errors.New("emulator: Options.ConnectPrincipals is set but the manifest does not require IAM on $connect")
	}
	if auth == nil || auth.APIKeys == nil {
		if len(o.APIKeys) > 0 {
			return nil, errors.New("emulator: Options.APIKeys is set but the manifest requires no API key on $connect")
		}
		return g, nil
	}
	if auth.APIKeys.KeySelectionExpression() == manifest.APIKeyFromAuthorizer {
		// The app's authorizer runs inside $connect here, after the gate:
		// the key it would return is not known yet. Not emulated.
		return g, nil
	}
	g.keys = make(map[string]*apiKeyBudget, len(o.APIKeys))
	ids := map[string]bool{}
	for _, k := range o.APIKeys {
		if len(k.Value) < 20 || len(k.Value) > 128 {
			return nil, fmt.Errorf("emulator: API key %q: a value needs 20 to 128 characters, as in API Gateway", k.Name)
		}
		if _, dup := g.keys[k.Value]; dup {
			return nil, fmt.Errorf("emulator: API key %q: another key has the same value", k.Name)
		}
		plan, ok := auth.APIKeys.Plan(k.Plan)
		if !ok {
			names := make([]string, len(auth.APIKeys.Plans))
			for i, p := range auth.APIKeys.Plans {
				names[i] = p.Name
			}
			return nil, fmt.Errorf("emulator: API key %q names usage plan %q; the app declares %s", k.Name, k.Plan, strings.Join(names, ", "))
		}
		if k.ID == "" {
			k.ID = APIKeyID(k.Value)
		}
		if ids[k.ID] {
			return nil, fmt.Errorf("emulator: API key %q: another key has the ID %q", k.Name, k.ID)
		}
		ids[k.ID] = true
		b := &apiKeyBudget{key: k, quota: plan.Quota}
		if plan.Throttle != nil {
			b.bucket = newTokenBucket(*plan.Throttle)
		}
		g.keys[k.Value] = b
	}
	return g, nil
}

// APIKeyID returns the ID the emulator gives an API key whose
// configuration names none: 10 lowercase letters and digits derived from
// its value, the shape of an API Gateway key ID.
func APIKeyID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:10]
}

func (p Principal) withDefaults() Principal {
	if p.AccountID == "" {
		p.AccountID = "000000000000"
	}
	if p.UserID == "" {
		sum := sha256.Sum256([]byte(p.AccessKeyID))
		p.UserID = "AIDA" + base32.StdEncoding.EncodeToString(sum[:])[:17]
	}
	if p.UserARN == "" {
		p.UserARN = "arn:aws:iam::" + p.AccountID + ":user/" + p.AccessKeyID
	}
	return p
}

// admission is a handshake the gate let through: what it adds to the
// $connect event's identity.
type admission struct {
	principal *Principal
	key       *APIKey
}

// fill sets the identity fields API Gateway fills for an authenticated
// $connect.
func (a admission) fill(id *events.APIGatewayRequestIdentity) {
	if p := a.principal; p != nil {
		id.AccessKey, id.AccountID, id.Caller, id.User, id.UserArn = p.AccessKeyID, p.AccountID, p.UserID, p.UserID, p.UserARN
	}
	if k := a.key; k != nil {
		id.APIKey, id.APIKeyID = k.Value, k.ID
	}
}

// refusal is a handshake the gate refused: the status, x-amzn-ErrorType and
// body API Gateway answers with.
type refusal = authError

// admit checks an upgrade request before $connect runs.
func (g *connectGate) admit(r *http.Request) (admission, *refusal) {
	var a admission
	if !g.throttle.take(time.Now()) {
		return a, &refusal{http.StatusTooManyRequests, "TooManyRequestsException", msgTooManyRequests}
	}
	if g.iam != nil {
		if r.Header.Get("Authorization") == "" && !presignedQuery(r) {
			return a, &refusal{http.StatusForbidden, "ForbiddenException", msgForbidden}
		}
		akid, aerr := g.iam.check(r, nil, verifyOptions{now: g.now(), presign: true, service: "execute-api"})
		if aerr != nil {
			return a, aerr
		}
		p := g.principals[akid]
		a.principal = &p
	}
	if g.keys != nil {
		value := r.Header.Get("X-Api-Key")
		var b *apiKeyBudget
		for v, kb := range g.keys {
			if subtle.ConstantTimeCompare([]byte(v), []byte(value)) == 1 {
				b = kb
			}
		}
		if value == "" || b == nil {
			return a, &refusal{http.StatusForbidden, "ForbiddenException", msgForbidden}
		}
		if b.bucket != nil && !b.bucket.take(time.Now()) {
			return a, &refusal{http.StatusTooManyRequests, "TooManyRequestsException", msgTooManyRequests}
		}
		if !b.spend(g.now()) {
			return a, &refusal{http.StatusTooManyRequests, "LimitExceededException", msgLimitExceeded}
		}
		k := b.key
		a.key = &k
	}
	return a, nil
}

// spend counts one request against the key's quota; false when the quota
// of the current period is spent.
func (b *apiKeyBudget) spend(now time.Time) bool {
	if b.quota == nil {
		return true
	}
	start := periodStart(now, b.quota.Period)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !start.Equal(b.period) {
		b.period, b.used = start, 0
	}
	if b.used >= b.quota.Limit {
		return false
	}
	b.used++
	return true
}

// periodStart is the start of the quota period now is in: the UTC day,
// the UTC week starting on Monday, or the UTC month.
func periodStart(now time.Time, period string) time.Time {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch period {
	case "WEEK":
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	case "MONTH":
		return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

// tokenBucket is API Gateway's throttling algorithm: a bucket of burst
// tokens refilled at rate per second; each request takes one.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(t manifest.Throttle) *tokenBucket {
	return &tokenBucket{rate: t.RatePerSecond, burst: float64(t.Burst), tokens: float64(t.Burst)}
}

// take reports whether a request may pass now, taking a token if so.
func (b *tokenBucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
