package dynamostore

import (
	"context"
	"fmt"
	"maps"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// RequestCounter counts a client's requests per operation name (GetItem,
// UpdateItem, ...), for tests and benchmarks that assert or report what a
// store call costs. It counts operations, one per API call however often
// the SDK retried it, and, separately, attempts, one per HTTP request sent,
// retries included. It is safe for concurrent use; the zero value is ready.
//
// Add it to a client with its Middleware:
//
//	var rc dynamostore.RequestCounter
//	client := dynamodb.NewFromConfig(cfg, dynamodb.WithAPIOptions(rc.Middleware()))
type RequestCounter struct {
	mu       sync.Mutex
	ops      map[string]int64
	attempts map[string]int64
}

// Middleware returns the SDK stack option that counts into c, for
// dynamodb.Options.APIOptions. The operation is counted when the call
// starts, each attempt when it is sent after the retry middleware.
func (c *RequestCounter) Middleware() func(*middleware.Stack) error {
	opID := fmt.Sprintf("mullet.RequestCounter.operations.%p", c)
	attemptID := fmt.Sprintf("mullet.RequestCounter.attempts.%p", c)
	return func(st *middleware.Stack) error {
		err := st.Initialize.Add(middleware.InitializeMiddlewareFunc(opID,
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.add(&c.ops, awsmiddleware.GetOperationName(ctx))
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
		if err != nil {
			return err
		}
		attempt := middleware.FinalizeMiddlewareFunc(attemptID,
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				c.add(&c.attempts, awsmiddleware.GetOperationName(ctx))
				return next.HandleFinalize(ctx, in)
			})
		if _, ok := st.Finalize.Get("Retry"); ok {
			return st.Finalize.Insert(attempt, "Retry", middleware.After)
		}
		return st.Finalize.Add(attempt, middleware.After)
	}
}

func (c *RequestCounter) add(m *map[string]int64, op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if *m == nil {
		*m = make(map[string]int64)
	}
	(*m)[op]++
}

// Snapshot returns the operations counted since the last Reset, by
// operation name: one per API call, retries not included.
func (c *RequestCounter) Snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.ops))
	maps.Copy(out, c.ops)
	return out
}

// Attempts returns the HTTP requests sent since the last Reset, by
// operation name: every attempt, retries included.
func (c *RequestCounter) Attempts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.attempts))
	maps.Copy(out, c.attempts)
	return out
}

// Total returns the number of operations counted since the last Reset.
func (c *RequestCounter) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.ops {
		n += v
	}
	return n
}

// Reset sets every count to zero.
func (c *RequestCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.ops)
	clear(c.attempts)
}
