package emulator_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/smithy-go"
)

// TestPostInvalidUTF8: data that is not UTF-8 is never sent as a text
// frame (browsers and ws drop the connection on one): PostToConnection
// gets 400 BadRequestException, and the client nothing.
func TestPostInvalidUTF8(t *testing.T) {
	srv, rec := startServer(t, nil)
	c, id := dial(t, srv, rec, "utf8")
	api := sdkClient(t, srv)
	_, err := api.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte{'o', 'k', 0xff, 0xfe}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "BadRequestException" || !strings.Contains(ae.ErrorMessage(), "not valid UTF-8") {
		t.Fatalf("err %v; want 400 BadRequestException about UTF-8", err)
	}
	if _, err := api.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("héllo")}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != "héllo" {
		t.Fatalf("client read %q; want only the valid post", got)
	}
}
