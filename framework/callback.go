package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go/middleware"
)

// CallbackAPI is the part of the API Gateway Management API client that
// mullet uses. *apigatewaymanagementapi.Client satisfies it.
type CallbackAPI interface {
	PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
	GetConnection(ctx context.Context, in *apigatewaymanagementapi.GetConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.GetConnectionOutput, error)
	DeleteConnection(ctx context.Context, in *apigatewaymanagementapi.DeleteConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error)
}

// CallbackOptions configures a Callback. nil means defaults.
type CallbackOptions struct {
	// Endpoint fixes the @connections base endpoint, e.g.
	// "http://127.0.0.1:8080/local" for the emulator or a custom domain.
	// Empty derives it from each event: https://{domainName}/{stage}.
	Endpoint string
	// MaxAttempts bounds attempts per call when API Gateway answers 429 or
	// 5xx. Default 4.
	MaxAttempts int
	// BaseBackoff is the first retry delay, doubled per attempt with
	// jitter and capped at 40x. Default 25ms.
	BaseBackoff time.Duration
}

// Callback sends frames to connections through API Gateway's @connections
// endpoint. It maps API errors to ErrGone, ErrPayloadTooLarge, ErrThrottled
// and ErrForbidden, and retries throttling with bounded backoff. Build one at
// cold start and share it; it is safe for concurrent use.
type Callback struct {
	endpoint    string
	maxAttempts int
	backoff     time.Duration
	newAPI      func(endpoint string) CallbackAPI

	mu   sync.RWMutex
	apis map[string]CallbackAPI
}

// NewCallback returns a Callback that builds one SDK client per endpoint
// from cfg, the first time the endpoint is used. The SDK's own retries are
// turned off; Callback retries itself so that the policy is the same with
// any CallbackAPI.
func NewCallback(cfg aws.Config, opts *CallbackOptions) *Callback {
	return NewCallbackWithAPI(func(endpoint string) CallbackAPI {
		return apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
			o.BaseEndpoint = aws.String(endpoint)
			o.Retryer = aws.NopRetryer{}
			o.APIOptions = append(o.APIOptions, trimCallbackStack)
			o.HTTPClient = inMemoryBody{o.HTTPClient}
		})
	}, opts)
}

// maxInMemoryBody bounds the request bodies that inMemoryBody copies: twice
// API Gateway's 128 KB limit on a PostToConnection payload.
const maxInMemoryBody = 256 << 10

// inMemoryBody hands requests to the HTTP client with their body as a
// *bytes.Reader and with GetBody set. The SDK wraps the body in its own
// reader type, which net/http cannot tell is in memory: it then writes the
// request headers and the body in two writes, two TCP segments for the
// server to read, on every push. With a bytes.Reader it writes both at
// once. GetBody also lets the transport send the request again on a fresh
// connection when a reused keep-alive connection turns out closed before
// anything was written (the SDK's body alone cannot be rewound).
type inMemoryBody struct {
	next apigatewaymanagementapi.HTTPClient
}

func (c inMemoryBody) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength > 0 && req.ContentLength <= maxInMemoryBody {
		// The SDK builds a new request for every attempt and only closes
		// its body after Do, so the request can be changed in place.
		p := make([]byte, req.ContentLength)
		_, err := io.ReadFull(req.Body, p)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("framework: callback: reading the request body: %w", err)
		}
		req.Body = io.NopCloser(bytes.NewReader(p))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(p)), nil }
	}
	return c.next.Do(req)
}

// trimCallbackStack removes the build steps of the SDK's middleware stack
// that only add informational headers, which API Gateway does not act on:
//   - ClientRequestID sets amz-sdk-invocation-id, a UUID per operation that
//     ties the SDK's own retry attempts together; the SDK makes one attempt
//     here (NopRetryer) and Callback's retries are separate operations.
//   - UserAgent builds the SDK's User-Agent string (SDK, OS, Go and module
//     versions, feature codes) for AWS's usage metrics; Go's default
//     User-Agent is sent instead.
//
// Each costs allocations on every push, in Lambda as locally, and the
// invocation id is one more signed header. Signing, the SDK's Retry step
// (with NopRetryer it still corrects the signing time after a response
// shows the clock skewed), endpoint resolution, error deserialization and
// the X-Ray trace header (RecursionDetection) stay as they are.
func trimCallbackStack(s *middleware.Stack) error {
	for _, id := range []string{"ClientRequestID", "UserAgent"} {
		if _, ok := s.Build.Get(id); ok {
			if _, err := s.Build.Remove(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// NewCallbackWithAPI returns a Callback over the CallbackAPI that newAPI
// returns for an endpoint; tests use it to inject faults.
func NewCallbackWithAPI(newAPI func(endpoint string) CallbackAPI, opts *CallbackOptions) *Callback {
	c := &Callback{newAPI: newAPI, maxAttempts: 4, backoff: 25 * time.Millisecond, apis: make(map[string]CallbackAPI)}
	if opts != nil {
		c.endpoint = opts.Endpoint
		if opts.MaxAttempts > 0 {
			c.maxAttempts = opts.MaxAttempts
		}
		if opts.BaseBackoff > 0 {
			c.backoff = opts.BaseBackoff
		}
	}
	return c
}

// Endpoint returns the @connections endpoint for an event's domain name and
// stage, or the fixed endpoint if one was configured.
func (c *Callback) Endpoint(domainName, stage string) string {
	if c.endpoint != "" {
		return c.endpoint
	}
	return "https://" + domainName + "/" + stage
}

func (c *Callback) api(endpoint string) CallbackAPI {
	c.mu.RLock()
	api, ok := c.apis[endpoint]
	c.mu.RUnlock()
	if ok {
		return api
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if api, ok = c.apis[endpoint]; !ok {
		api = c.newAPI(endpoint)
		c.apis[endpoint] = api
	}
	return api
}

// Post sends data as one text frame to the connection id.
func (c *Callback) Post(ctx context.Context, endpoint, id string, data []byte) error {
	api := c.api(endpoint)
	return observeCall(ctx, SpanPush, id, http.StatusOK, func(ctx context.Context) error {
		return c.retry(ctx, func() error {
			_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: data})
			return err
		})
	})
}

// ConnectionInfo describes a live connection, as GetConnection reports it.
type ConnectionInfo struct {
	ConnectedAt  time.Time
	LastActiveAt time.Time
	SourceIP     string
	UserAgent    string
}

// Info returns what API Gateway knows of the connection id.
func (c *Callback) Info(ctx context.Context, endpoint, id string) (ConnectionInfo, error) {
	api := c.api(endpoint)
	var out *apigatewaymanagementapi.GetConnectionOutput
	err := observeCall(ctx, SpanInfo, id, http.StatusOK, func(ctx context.Context) error {
		return c.retry(ctx, func() error {
			var err error
			out, err = api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
			return err
		})
	})
	if err != nil {
		return ConnectionInfo{}, err
	}
	info := ConnectionInfo{
		ConnectedAt:  aws.ToTime(out.ConnectedAt),
		LastActiveAt: aws.ToTime(out.LastActiveAt),
	}
	if out.Identity != nil {
		info.SourceIP = aws.ToString(out.Identity.SourceIp)
		info.UserAgent = aws.ToString(out.Identity.UserAgent)
	}
	return info, nil
}

// Delete closes the connection id.
func (c *Callback) Delete(ctx context.Context, endpoint, id string) error {
	api := c.api(endpoint)
	return observeCall(ctx, SpanDelete, id, http.StatusNoContent, func(ctx context.Context) error {
		return c.retry(ctx, func() error {
			_, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id})
			return err
		})
	})
}

func (c *Callback) retry(ctx context.Context, call func() error) error {
	var err error
	for attempt := 0; attempt < c.maxAttempts; attempt++ {
		if attempt > 0 {
			d := c.backoff << (attempt - 1)
			if limit := 40 * c.backoff; d > limit {
				d = limit
			}
			d = d/2 + rand.N(d/2+1)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("framework: callback: %w (last error: %w)", ctx.Err(), err)
			case <-t.C:
			}
		}
		err = mapCallbackError(call())
		if errors.Is(err, ErrThrottled) {
			noteThrottle(ctx)
		}
		if err == nil || !retryable(err) {
			return err
		}
	}
	if errors.Is(err, ErrThrottled) {
		return err
	}
	return fmt.Errorf("framework: callback failed after %d attempts: %w", c.maxAttempts, err)
}

type serverError struct{ err error }

func (e serverError) Error() string { return "framework: callback API server error: " + e.err.Error() }
func (e serverError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var se serverError
	return errors.Is(err, ErrThrottled) || errors.As(err, &se)
}

func mapCallbackError(err error) error {
	if err == nil {
		return nil
	}
	var (
		gone      *types.GoneException
		tooLarge  *types.PayloadTooLargeException
		limit     *types.LimitExceededException
		forbidden *types.ForbiddenException
		resp      *awshttp.ResponseError
	)
	switch {
	case errors.As(err, &gone):
		return fmt.Errorf("%w: %w", ErrGone, err)
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%w: %w", ErrPayloadTooLarge, err)
	case errors.As(err, &limit):
		return fmt.Errorf("%w: %w", ErrThrottled, err)
	case errors.As(err, &forbidden):
		return fmt.Errorf("%w: %w", ErrForbidden, err)
	case errors.As(err, &resp):
		switch code := resp.HTTPStatusCode(); {
		case code == http.StatusGone:
			return fmt.Errorf("%w: %w", ErrGone, err)
		case code == http.StatusRequestEntityTooLarge:
			return fmt.Errorf("%w: %w", ErrPayloadTooLarge, err)
		case code == http.StatusTooManyRequests:
			return fmt.Errorf("%w: %w", ErrThrottled, err)
		case code == http.StatusForbidden:
			return fmt.Errorf("%w: %w", ErrForbidden, err)
		case code >= 500:
			return serverError{err}
		}
	}
	return err
}
