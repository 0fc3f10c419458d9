package emulator_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/smithy-go"

	"github.com/mulletgo/mullet/local/emulator"
)

// TestURLLengthQuota: a URL over API Gateway's 4096 characters gets 414,
// on the WebSocket endpoint and on @connections; one at the quota passes.
func TestURLLengthQuota(t *testing.T) {
	srv, _ := startServer(t, nil)
	base := srv.CallbackURL() // the WebSocket endpoint over http: 426 when not an upgrade
	path := base[len("http://")+strings.IndexByte(base[len("http://"):], '/'):]
	fits := base + "?q=" + strings.Repeat("a", emulator.MaxURLLength-len(path)-len("?q="))
	if resp := rawRequest(t, http.MethodGet, fits, "", false); resp.StatusCode == http.StatusRequestURITooLong {
		t.Fatalf("a URL of %d characters got 414", emulator.MaxURLLength)
	}
	for _, u := range []string{fits + "a", base + "?q=" + strings.Repeat("a", 8<<10), base + "/@connections/AAAAAAAAAAAAAAA=?" + strings.Repeat("a", 5000)} {
		if resp := rawRequest(t, http.MethodGet, u, "", false); resp.StatusCode != http.StatusRequestURITooLong {
			t.Errorf("a URL of %d characters: status %d; want 414", len(u)-len(base)+len(path), resp.StatusCode)
		}
	}
}

// TestConnectionIDWithSlash: an ID with a '/' (sent escaped, %2F, as the
// SDK sends it) is an invalid ID, 400 BadRequestException that the SDK
// parses, not another path.
func TestConnectionIDWithSlash(t *testing.T) {
	srv, _ := startServer(t, func(o *emulator.Options) {
		o.Fallback = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	})
	_, err := sdkClient(t, srv).PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("abc/def="), Data: []byte("x")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "BadRequestException" || ae.ErrorMessage() != "Invalid connectionId: abc/def=" {
		t.Fatalf("err %v; want 400 BadRequestException Invalid connectionId", err)
	}
}

// TestConnectionsBodyReadTimeout: a POST whose body trickles in is cut off
// after the body read timeout with 400, instead of holding its handler.
func TestConnectionsBodyReadTimeout(t *testing.T) {
	t.Parallel()
	srv, rec := startServer(t, nil)
	_, id := dial(t, srv, rec, "trickled")
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.CallbackURL()+"/@connections/"+id, nil)
	signRequest(t, req, strings.Repeat("x", 100))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n", req.URL.Path, req.URL.Host)
	for k, v := range req.Header {
		fmt.Fprintf(conn, "%s: %s\r\n", k, v[0])
	}
	fmt.Fprint(conn, "\r\n")
	start := time.Now()
	done := make(chan *http.Response, 1)
	go func() {
		resp, _ := http.ReadResponse(bufio.NewReader(conn), nil)
		done <- resp
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case resp := <-done:
			if resp == nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("response %v; want 400", resp)
			}
			if d := time.Since(start); d > 8*time.Second {
				t.Fatalf("the trickling POST was held %v", d)
			}
			return
		case <-tick.C:
			if time.Since(start) > 15*time.Second {
				t.Fatal("a POST trickling 1 byte/s is still held after 15 s")
			}
			_, _ = conn.Write([]byte("x"))
		}
	}
}
