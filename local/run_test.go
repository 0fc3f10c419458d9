package local_test

import (
	"context"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mulletgo/mullet/local"
)

// TestDynamoDBStoreLocalEndpointSkipsIMDS: with a local endpoint and no AWS
// credentials configured, DynamoDBStore never asks the EC2 instance
// metadata service for credentials (off EC2 that costs seconds of
// timeouts); it uses placeholder credentials at once.
func TestDynamoDBStoreLocalEndpointSkipsIMDS(t *testing.T) {
	var imdsRequests atomic.Int64
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		imdsRequests.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	t.Cleanup(imds.Close)
	var dynamoRequests atomic.Int64
	dynamo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dynamoRequests.Add(1)
		body := []byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(body)
	}))
	t.Cleanup(dynamo.Close)
	// No credentials anywhere but the metadata service, which points at
	// the recorder.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_EC2_METADATA_DISABLED"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	t.Setenv("AWS_REGION", "us-east-1")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := local.DynamoDBStore(ctx, "missing", dynamo.URL); err == nil {
		t.Fatal("DynamoDBStore succeeded against a server without the table")
	}
	if n := imdsRequests.Load(); n != 0 {
		t.Errorf("%d requests to the EC2 instance metadata service; want none for a local endpoint", n)
	}
	if dynamoRequests.Load() == 0 {
		t.Error("the table was never checked")
	}
}
