package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/dynamostore"
)

// A Lambda builds its client and store once, at cold start, and checks the
// table before serving.
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	s := dynamostore.New(dynamodb.NewFromConfig(cfg), os.Getenv("MULLET_TABLE"), nil)
	if err := s.CheckTable(ctx); err != nil {
		log.Fatal(err)
	}
	// Hand s to the framework as its store.Store.
}

// emptyResponses answers every request with 200 and an empty JSON object,
// which is what DynamoDB answers a GetItem of an absent item.
type emptyResponses struct{}

func (emptyResponses) Do(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:       io.NopCloser(strings.NewReader(`{}`)),
		Request:    r,
	}, nil
}

// A RequestCounter shows what a store call cost.
func ExampleRequestCounter() {
	var rc dynamostore.RequestCounter
	client := dynamodb.New(dynamodb.Options{
		Region:      "us-east-1",
		Credentials: aws.AnonymousCredentials{},
		HTTPClient:  emptyResponses{},
	}, dynamodb.WithAPIOptions(rc.Middleware()))
	s := dynamostore.New(client, "mullet", nil)

	_, err := s.LoadState(context.Background(), "L0SM9cOFvHcCIhw=")
	fmt.Println(errors.Is(err, store.ErrNotFound), rc.Snapshot(), rc.Attempts())
	// Output: true map[GetItem:1] map[GetItem:1]
}
