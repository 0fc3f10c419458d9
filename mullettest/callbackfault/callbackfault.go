package callbackfault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mulletgo/mullet/framework"
)

// Options configures the faults. The zero value injects none.
type Options struct {
	// Throttle is the probability that a call fails with 429
	// LimitExceededException, in [0, 1].
	Throttle float64
	// ServerError is the probability that a call fails with a 500 or 503,
	// in [0, 1].
	ServerError float64
	// MaxConsecutive bounds the throttles and server errors injected in a
	// row into calls of one operation on one connection, so that a caller
	// that makes at least MaxConsecutive+1 attempts always gets through.
	// 0 means no bound.
	MaxConsecutive int
	// Seed seeds the fault sequence, so that a failing run can be replayed.
	Seed uint64
}

// Stats counts calls and injected faults.
type Stats struct {
	// Calls is the number of calls seen, faulted or not.
	Calls int64
	// Gone, Throttled and ServerErrors count injected faults by kind.
	Gone, Throttled, ServerErrors int64
}

// Faults decides which calls fail. It is safe for concurrent use.
type Faults struct {
	opts Options

	mu     sync.Mutex
	rnd    *rand.Rand
	gone   map[string]bool
	streak map[string]int // op/id -> faults injected in a row

	calls, gone410, throttled, server atomic.Int64
}

// New returns a fault sequence.
func New(opts Options) *Faults {
	return &Faults{
		opts:   opts,
		rnd:    rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		gone:   make(map[string]bool),
		streak: make(map[string]int),
	}
}

// SetGone makes every later call on the connections ids answer 410
// GoneException, as API Gateway does for a connection that no longer
// exists (e.g. its client vanished and $disconnect has not run yet).
func (f *Faults) SetGone(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.gone[id] = true
	}
}

// Stats returns the counts so far.
func (f *Faults) Stats() Stats {
	return Stats{Calls: f.calls.Load(), Gone: f.gone410.Load(), Throttled: f.throttled.Load(), ServerErrors: f.server.Load()}
}

// fault is the outcome of one call.
type fault int

const (
	none fault = iota
	gone
	throttle
	serverError500
	serverError503
)

// decide draws the fault for a call of op on the connection id.
func (f *Faults) decide(op, id string) fault {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone[id] {
		f.gone410.Add(1)
		return gone
	}
	key := op + "/" + id
	r := f.rnd.Float64()
	var k fault
	switch {
	case r < f.opts.Throttle:
		k = throttle
	case r < f.opts.Throttle+f.opts.ServerError:
		k = serverError500
		if f.rnd.IntN(2) == 1 {
			k = serverError503
		}
	}
	if k != none && f.opts.MaxConsecutive > 0 && f.streak[key] >= f.opts.MaxConsecutive {
		k = none
	}
	if k == none {
		delete(f.streak, key)
		return none
	}
	f.streak[key]++
	if k == throttle {
		f.throttled.Add(1)
	} else {
		f.server.Add(1)
	}
	return k
}

// status returns the HTTP status, x-amzn-ErrorType and message of a fault.
func (k fault) status() (int, string, string) {
	switch k {
	case gone:
		return http.StatusGone, "GoneException", ""
	case throttle:
		return http.StatusTooManyRequests, "LimitExceededException", "Rate exceeded"
	case serverError500:
		return http.StatusInternalServerError, "InternalServerErrorException", "Internal server error"
	default:
		return http.StatusServiceUnavailable, "ServiceUnavailableException", "Service Unavailable"
	}
}

// sdkError builds the error the SDK returns for fault k on operation op.
func (k fault) sdkError(op string) error {
	status, code, msg := k.status()
	var apiErr error
	switch k {
	case gone:
		apiErr = &types.GoneException{}
	case throttle:
		apiErr = &types.LimitExceededException{Message: &msg}
	default:
		apiErr = &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultServer}
	}
	resp := &http.Response{StatusCode: status, Header: http.Header{"X-Amzn-Errortype": {code}}, Body: http.NoBody}
	return &smithy.OperationError{
		ServiceID:     "ApiGatewayManagementApi",
		OperationName: op,
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: apiErr},
			RequestID:     "callbackfault-injected",
		},
	}
}

// API is a framework.CallbackAPI that injects faults into calls to an
// inner one. Calls that are not faulted go to the inner API unchanged.
type API struct {
	inner framework.CallbackAPI
	f     *Faults
}

var _ framework.CallbackAPI = (*API)(nil)

// Wrap returns inner with faults injected.
func (f *Faults) Wrap(inner framework.CallbackAPI) *API { return &API{inner: inner, f: f} }

// PostToConnection implements framework.CallbackAPI.
func (a *API) PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	if k := a.f.decide("PostToConnection", deref(in.ConnectionId)); k != none {
		return nil, k.sdkError("PostToConnection")
	}
	return a.inner.PostToConnection(ctx, in, optFns...)
}

// GetConnection implements framework.CallbackAPI.
func (a *API) GetConnection(ctx context.Context, in *apigatewaymanagementapi.GetConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.GetConnectionOutput, error) {
	if k := a.f.decide("GetConnection", deref(in.ConnectionId)); k != none {
		return nil, k.sdkError("GetConnection")
	}
	return a.inner.GetConnection(ctx, in, optFns...)
}

// DeleteConnection implements framework.CallbackAPI.
func (a *API) DeleteConnection(ctx context.Context, in *apigatewaymanagementapi.DeleteConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error) {
	if k := a.f.decide("DeleteConnection", deref(in.ConnectionId)); k != none {
		return nil, k.sdkError("DeleteConnection")
	}
	return a.inner.DeleteConnection(ctx, in, optFns...)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Transport is an http.RoundTripper for the SDK client's HTTP client that
// answers faulted @connections requests itself, with the status, the
// x-amzn-ErrorType header and the JSON body API Gateway sends, and passes
// the others to Base.
type Transport struct {
	// Base carries the requests that are not faulted. nil means
	// http.DefaultTransport.
	Base http.RoundTripper
	// Faults decides which requests fail.
	Faults *Faults
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	_, rest, ok := strings.Cut(r.URL.EscapedPath(), "/@connections/")
	if !ok {
		return t.base().RoundTrip(r)
	}
	id, err := url.PathUnescape(rest)
	if err != nil {
		id = rest
	}
	op := map[string]string{http.MethodPost: "PostToConnection", http.MethodGet: "GetConnection", http.MethodDelete: "DeleteConnection"}[r.Method]
	k := t.Faults.decide(op, id)
	if k == none {
		return t.base().RoundTrip(r)
	}
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	status, code, msg := k.status()
	body := `{"message":null}`
	if msg != "" {
		body = fmt.Sprintf(`{"message":%q}`, msg)
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}, "X-Amzn-Errortype": {code}},
		Body:          io.NopCloser(bytes.NewReader([]byte(body))),
		ContentLength: int64(len(body)),
		Request:       r,
	}, nil
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}
