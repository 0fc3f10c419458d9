package emulator_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// TestMalformedHandshakeNeverReachesConnect: every handshake the upgrader
// would refuse is refused before $connect runs, so the integration never
// records a connection that is not established (and that would never get
// its $disconnect). A well-formed handshake with the same raw client, and
// one whose Connection token is on its second line, are accepted.
func TestMalformedHandshakeNeverReachesConnect(t *testing.T) {
	srv, rec := startServer(t, nil)
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	base := func(proto string) string {
		return "GET /test " + proto + "\r\nHost: " + srv.Addr().String() + "\r\n"
	}
	good := "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"
	tests := []struct {
		name, request string
		accept        bool
	}{
		{name: "well-formed", request: base("HTTP/1.1") + good, accept: true},
		{name: "Connection split over two lines", request: base("HTTP/1.1") + "Upgrade: websocket\r\nConnection: keep-alive\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n", accept: true},
		{name: "HTTP/1.0", request: base("HTTP/1.0") + good},
		{name: "Upgrade: h2c, websocket", request: base("HTTP/1.1") + "Upgrade: h2c, websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n"},
		{name: "two Upgrade headers", request: base("HTTP/1.1") + "Upgrade: websocket\r\n" + good},
		{name: "duplicated Sec-WebSocket-Key", request: base("HTTP/1.1") + good + "Sec-WebSocket-Key: " + key + "\r\n"},
		{name: "duplicated Sec-WebSocket-Version", request: base("HTTP/1.1") + good + "Sec-WebSocket-Version: 13\r\n"},
		{name: "malformed Sec-WebSocket-Protocol", request: base("HTTP/1.1") + good + "Sec-WebSocket-Protocol: chat,,\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := "hs-" + strings.ReplaceAll(tt.name, " ", "-")
			nc, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(wait))
			fmt.Fprintf(nc, "%sX-Client: %s\r\n\r\n", tt.request, client)
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			accepted := resp.StatusCode == http.StatusSwitchingProtocols
			connects := rec.count(func(ev *events.APIGatewayWebsocketProxyRequest) bool {
				return ev.RequestContext.EventType == "CONNECT" && ev.Headers["X-Client"] == client
			})
			switch {
			case accepted != tt.accept:
				t.Fatalf("status %d; want accepted=%v", resp.StatusCode, tt.accept)
			case !tt.accept && connects != 0:
				t.Fatalf("refused with %d after $connect ran: an orphan record", resp.StatusCode)
			case !tt.accept && resp.StatusCode/100 != 4:
				t.Fatalf("status %d; want a 4xx", resp.StatusCode)
			}
			if tt.accept {
				_, _ = nc.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}) // close 1000
				rec.disconnectEvent(t, rec.connectEvent(t, client).RequestContext.ConnectionID)
			}
		})
	}
}
