package framework

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/store"
)

// UsagePlan is an API Gateway usage plan: a throttle and a quota that each
// API key of the plan gets separately (see App.RequireAPIKeys).
type UsagePlan = manifest.UsagePlan

// Throttle is a usage plan's token bucket: a steady rate per second and a
// burst.
type Throttle = manifest.Throttle

// Quota is a usage plan's number of requests (here: connections) per
// period, "DAY", "WEEK" or "MONTH".
type Quota = manifest.Quota

// APIKeyOptions configures App.RequireAPIKeys. nil means defaults; the
// caller's struct is never modified.
type APIKeyOptions struct {
	// Plans are the usage plans keys belong to. Which keys exist, and in
	// which plan, is deployment data: infra.WebSocketAppProps.APIKeys in
	// AWS, a keys file (mullet dev -api-keys) or emulator.Options.APIKeys
	// locally. Default: one plan named "default" with neither throttle nor
	// quota.
	Plans []UsagePlan
	// FromAuthorizer takes the key from the app's authorizer (see
	// Authorize) instead of the x-api-key header: API Gateway's
	// $context.authorizer.usageIdentifierKey. The authorizer returns it
	// under the AuthContext key "usageIdentifierKey". Declare Authorize
	// first.
	FromAuthorizer bool
}

// UsageIdentifierKey is the AuthContext key under which an authorizer
// returns the API key API Gateway counts the connection against, when the
// app takes keys from its authorizer (APIKeyOptions.FromAuthorizer).
const UsageIdentifierKey = "usageIdentifierKey"

// RequireIAM makes API Gateway authorize $connect with IAM: the upgrade
// must carry a Signature Version 4 signature (signed headers, or a
// presigned URL for clients that cannot set headers, such as browsers) by
// a principal allowed execute-api:Invoke on the $connect route (infra's
// GrantConnect). The emulator verifies such signatures for real. The
// caller's principal is in the $connect event's
// requestContext.identity and, for later invocations, in Identity.
//
// It panics if the app has an authorizer (Authorize): a route has one
// authorization type.
func (a *App[S]) RequireIAM() {
	if a.authorizer != nil {
		panic(fmt.Sprintf("framework: RequireIAM: app %q already has an authorizer; API Gateway authorizes $connect with IAM or with a Lambda authorizer, not both", a.name))
	}
	if a.connectAuth == nil {
		a.connectAuth = &manifest.ConnectAuth{}
	}
	a.connectAuth.IAM = true
}

// RequireAPIKeys makes API Gateway require an API key on $connect
// (apiKeyRequired), read from the x-api-key header (or from the
// authorizer, see APIKeyOptions.FromAuthorizer), and count each
// connection against the key's usage plan: a missing or unknown key gets
// 403, a key past its plan's throttle or quota gets 429 on the handshake.
// The key's ID is in the $connect event's requestContext.identity.apiKeyId
// and, for later invocations, in Identity. opts may be nil.
//
// It panics if called twice, or if the options would not deploy (a plan
// name that is not 1-64 letters, digits, '-' or '_', two plans with one
// name, a throttle or quota that is not positive, a quota period other
// than DAY, WEEK or MONTH, FromAuthorizer without an authorizer).
func (a *App[S]) RequireAPIKeys(opts *APIKeyOptions) {
	if a.connectAuth != nil && a.connectAuth.APIKeys != nil {
		panic(fmt.Sprintf("framework: RequireAPIKeys is called twice in app %q; declare every usage plan in one call", a.name))
	}
	var o APIKeyOptions
	if opts != nil {
		o = *opts
	}
	keys := &manifest.APIKeys{Plans: append([]UsagePlan(nil), o.Plans...)}
	if len(keys.Plans) == 0 {
		keys.Plans = []UsagePlan{{Name: "default"}}
	}
	for i, p := range keys.Plans {
		// Copies, so that the caller's throttles and quotas stay theirs.
		if p.Throttle != nil {
			t := *p.Throttle
			keys.Plans[i].Throttle = &t
		}
		if p.Quota != nil {
			q := *p.Quota
			keys.Plans[i].Quota = &q
		}
	}
	if o.FromAuthorizer {
		keys.SelectionExpression = manifest.APIKeyFromAuthorizer
	}
	auth := manifest.ConnectAuth{APIKeys: keys}
	if a.connectAuth != nil {
		auth.IAM = a.connectAuth.IAM
	}
	check := &manifest.Manifest{Version: manifest.Version, Name: a.name, RouteSelectionExpression: a.rse.String(), ConnectAuth: &auth}
	if a.authorizer != nil {
		check.Authorizer = &manifest.Authorizer{}
	}
	if err := check.Validate(); err != nil {
		hint := ""
		if o.FromAuthorizer && a.authorizer == nil {
			hint = " (call app.Authorize before RequireAPIKeys)"
		}
		panic(fmt.Sprintf("framework: RequireAPIKeys in app %q: %v%s", a.name, err, hint))
	}
	a.connectAuth = &auth
}

// Identity is who API Gateway authenticated at $connect, as it fills
// requestContext.identity of the $connect event: the IAM principal that
// signed the upgrade (App.RequireIAM) and the ID of the API key the caller
// sent (App.RequireAPIKeys). Fields API Gateway did not fill are empty.
type Identity struct {
	// AccessKey is the access key ID that signed the upgrade.
	AccessKey string
	// AccountID is the AWS account of the signing principal.
	AccountID string
	// Caller and User identify the principal: an IAM user's unique ID
	// (AIDA...), or for an assumed role "AROA...:session".
	Caller, User string
	// UserARN is the principal's ARN, e.g.
	// arn:aws:iam::123456789012:user/ann or
	// arn:aws:sts::123456789012:assumed-role/role/session.
	UserARN string
	// APIKeyID is the ID of the API key the caller sent (not the key
	// itself, which is a secret and which only the $connect event
	// carries, in requestContext.identity.apiKey).
	APIKeyID string
}

func identityOf(id events.APIGatewayRequestIdentity) Identity {
	return Identity{AccessKey: id.AccessKey, AccountID: id.AccountID, Caller: id.Caller, User: id.User, UserARN: id.UserArn, APIKeyID: id.APIKeyID}
}

// Identity returns who API Gateway authenticated at $connect for the
// caller's connection (see Identity). On $connect it comes from the event
// at no cost. Later events do not carry it (API Gateway gives them only
// the source IP), so the framework kept it with the connection's record:
// the first call of an invocation reads that record (one GetConnection,
// shared with AuthContext), later calls reuse it. An app that requires
// neither IAM nor API keys gets the zero Identity without a read. A
// connection whose record is gone gives an error matching
// store.ErrNotFound.
func (inv *Invocation) Identity(ctx context.Context) (Identity, error) {
	if inv.event.RequestContext.EventType == "CONNECT" || inv.event.RequestContext.RouteKey == manifest.RouteConnect {
		return identityOf(inv.event.RequestContext.Identity), nil
	}
	if !inv.rt.identifies {
		return Identity{}, nil
	}
	rec, err := inv.record(ctx)
	if err != nil {
		return Identity{}, fmt.Errorf("framework: identity of %s: %w", inv.id, err)
	}
	return Identity(rec.Identity), nil
}

// Identity returns who API Gateway authenticated at $connect; see
// Invocation.Identity.
func (c *Conn[S]) Identity(ctx context.Context) (Identity, error) { return c.inv.Identity(ctx) }

// record reads the caller's connection record once per invocation.
func (inv *Invocation) record(ctx context.Context) (store.Connection, error) {
	inv.recMu.Lock()
	defer inv.recMu.Unlock()
	if inv.rec != nil {
		return *inv.rec, nil
	}
	var rec store.Connection
	err := retryStore(ctx, func() error {
		var err error
		rec, err = inv.rt.store.GetConnection(ctx, inv.id)
		return err
	})
	if err != nil {
		return store.Connection{}, err
	}
	inv.rec = &rec
	return rec, nil
}

// storedIdentity is what the connection record keeps of the $connect
// event's identity: no API key value.
func storedIdentity(id events.APIGatewayRequestIdentity) store.Identity {
	return store.Identity{AccessKey: id.AccessKey, AccountID: id.AccountID, Caller: id.Caller, User: id.User, UserARN: id.UserArn, APIKeyID: id.APIKeyID}
}
