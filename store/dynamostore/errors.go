package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mulletgo/mullet/store"
)

// fail maps an error of the SDK to the store's contract: throttling and 5xx
// to store.ErrThrottled, an oversized item to store.ErrTooLarge. The SDK's
// error stays in the chain.
func (s *Store) fail(op string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("dynamostore: %s: %w", op, err)
	case isThrottle(err):
		return fmt.Errorf("dynamostore: %s: %w: %w", op, store.ErrThrottled, err)
	case isTooLarge(err):
		return fmt.Errorf("dynamostore: %s: %w: %w", op, store.ErrTooLarge, err)
	case isTableMissing(err):
		return fmt.Errorf("dynamostore: %s: table %q not found at %s: %w", op, s.table, s.endpoint(), err)
	case isUnreachable(err):
		return fmt.Errorf("dynamostore: %s: cannot reach DynamoDB at %s: %w", op, s.endpoint(), err)
	}
	return fmt.Errorf("dynamostore: %s: %w", op, err)
}

// isThrottle reports a refusal for capacity: one of the SDK's throttle error
// codes, or a 5xx response.
func isThrottle(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if _, ok := retry.DefaultThrottleErrorCodes[ae.ErrorCode()]; ok {
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() >= 500
}

// isTooLarge reports DynamoDB's ValidationException for an item over
// 400 KB: "Item size has exceeded the maximum allowed size" (PutItem) or
// "Item size to update has exceeded the maximum allowed size" (UpdateItem).
func isTooLarge(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
		return false
	}
	msg := ae.ErrorMessage()
	return strings.Contains(msg, "Item size") && strings.Contains(msg, "exceeded the maximum allowed size")
}

func isTableMissing(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// isUnreachable reports that the request could not be sent or its response
// not read: a refused connection, an unknown host.
func isUnreachable(err error) bool {
	var se *smithyhttp.RequestSendError
	return errors.As(err, &se)
}

// endpoint describes where the client sends requests, for error messages.
func (s *Store) endpoint() string {
	c, ok := s.client.(interface{ Options() dynamodb.Options })
	if !ok {
		return "the client's endpoint"
	}
	o := c.Options()
	if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
		return *o.BaseEndpoint
	}
	if o.Region == "" {
		return "the AWS endpoint (no region configured)"
	}
	return "https://dynamodb." + o.Region + ".amazonaws.com"
}
