package lambdaruntime

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestEncodeEventWithoutUserAgent: with no User-Agent, API Gateway leaves
// identity.userAgent out of the event; a header or query parameter of that
// name keeps its value.
func TestEncodeEventWithoutUserAgent(t *testing.T) {
	ev := &events.APIGatewayWebsocketProxyRequest{
		QueryStringParameters: map[string]string{"userAgent": ""},
		Body:                  `{"userAgent":""}`,
	}
	ev.RequestContext.Identity.SourceIP = "127.0.0.1"
	out, err := encodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Query          map[string]string `json:"queryStringParameters"`
		Body           string            `json:"body"`
		RequestContext struct {
			Identity map[string]any `json:"identity"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if _, ok := m.RequestContext.Identity["userAgent"]; ok || m.RequestContext.Identity["sourceIp"] != "127.0.0.1" {
		t.Errorf("identity %v; want sourceIp and no userAgent", m.RequestContext.Identity)
	}
	if _, ok := m.Query["userAgent"]; !ok || m.Body != `{"userAgent":""}` {
		t.Errorf("query %v, body %q changed", m.Query, m.Body)
	}
	ev.RequestContext.Identity.UserAgent = "wscat"
	if out, _ := encodeEvent(ev); !bytes.Contains(out, []byte(`"userAgent":"wscat"`)) {
		t.Errorf("%s lost the User-Agent", out)
	}
}
