package upgradeauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Service is the service name API Gateway's IAM authorization expects in a
// signature's credential scope.
const Service = "execute-api"

// DefaultExpires is how long a presigned URL stays valid when
// Signer.Expires is zero.
const DefaultExpires = 5 * time.Minute

// emptyPayloadHash is the hex SHA-256 of the upgrade's empty body.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Signer signs WebSocket upgrade requests with AWS Signature Version 4 for
// execute-api. Its zero Presign signs headers (Authorization, X-Amz-Date,
// X-Amz-Security-Token); Presign moves the signature into the URL's query
// string. A Signer is safe for concurrent use.
type Signer struct {
	// Credentials provides the access key, e.g. aws.Config.Credentials
	// from config.LoadDefaultConfig, or
	// credentials.NewStaticCredentialsProvider. Required.
	Credentials aws.CredentialsProvider
	// Region is the API's Region, e.g. "us-east-1". Required.
	Region string
	// Presign signs the URL (X-Amz-Algorithm, X-Amz-Credential,
	// X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature)
	// instead of headers.
	Presign bool
	// Expires is how long a presigned URL is valid. Default
	// DefaultExpires.
	Expires time.Duration
	// Now is the signing clock. nil means time.Now.
	Now func() time.Time
}

// ErrNoCredentials is returned by Sign when the Signer has no credentials
// provider or region.
var ErrNoCredentials = errors.New("upgradeauth: a Signer needs Credentials and Region")

// Sign signs r, a GET of the API's ws:// or wss:// URL, in place: it sets
// the signature headers, or replaces r.URL with the presigned URL. Headers
// set on r before Sign (such as x-api-key) are signed too; the WebSocket
// headers a client library adds afterwards are not, and need not be.
func (s *Signer) Sign(ctx context.Context, r *http.Request) error {
	if s == nil || s.Credentials == nil || s.Region == "" {
		return ErrNoCredentials
	}
	creds, err := s.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("upgradeauth: AWS credentials: %w", err)
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	signer := v4.NewSigner()
	if !s.Presign {
		if err := signer.SignHTTP(ctx, creds, r, emptyPayloadHash, Service, s.Region, now); err != nil {
			return fmt.Errorf("upgradeauth: SigV4: %w", err)
		}
		return nil
	}
	expires := s.Expires
	if expires <= 0 {
		expires = DefaultExpires
	}
	u := *r.URL
	q := u.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	u.RawQuery = q.Encode()
	req := r.Clone(ctx)
	req.URL = &u
	signed, _, err := signer.PresignHTTP(ctx, creds, req, emptyPayloadHash, Service, s.Region, now)
	if err != nil {
		return fmt.Errorf("upgradeauth: SigV4: %w", err)
	}
	pu, err := url.Parse(signed)
	if err != nil {
		return fmt.Errorf("upgradeauth: presigned URL: %w", err)
	}
	r.URL = pu
	return nil
}

// APIKeyHeader is the header API Gateway reads an API key from
// ($request.header.x-api-key).
const APIKeyHeader = "x-api-key"

// APIKey returns a hook that sends key in the x-api-key header.
func APIKey(key string) func(context.Context, *http.Request) error {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set(APIKeyHeader, key)
		return nil
	}
}
