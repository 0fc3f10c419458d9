package lambdaruntime_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/local/lambdaruntime"
	"github.com/mulletgo/mullet/manifest"
)

// malformedResponses are responses API Gateway refuses as "Malformed Lambda
// proxy response", each with the reason DecodeProxyResponse gives.
var malformedResponses = []struct{ response, reason string }{
	{`"hello"`, "it is a string, not a JSON object"},
	{`null`, "it is null, not a JSON object"},
	{`[{"statusCode":200}]`, "it is an array, not a JSON object"},
	{`200`, "it is a number, not a JSON object"},
	{`{"statusCode":"200"}`, `"statusCode" is a string, which does not fit its type`},
	{`{"statusCode":200.5}`, `"statusCode" is 200.5, not an integer status code`},
	{`{"statusCode":200,"body":{"a":1}}`, `"body" is an object, which does not fit its type`},
	{`{"statusCode":200,"body":42}`, `"body" is a number, which does not fit its type`},
	{`{"statusCode":200,"headers":{"a":1}}`, `"headers" is an object, which does not fit its type`},
	{`{"statusCode":200,"multiValueHeaders":{"a":"b"}}`, `"multiValueHeaders" is an object, which does not fit its type`},
	{`{"statusCode":200,"isBase64Encoded":"false"}`, `"isBase64Encoded" is a string, which does not fit its type`},
	{`{"statusCode":200,"ConnectionId":"x","Data":"hi"}`, `it has the key "ConnectionId"`},
}

// wellFormedResponses are accepted, with the status and body they decode to.
var wellFormedResponses = []struct {
	response string
	status   int
	body     string
}{
	{`{"statusCode":200}`, 200, ""},
	// What aws-lambda-go writes for events.APIGatewayProxyResponse.
	{`{"statusCode":200,"headers":null,"multiValueHeaders":null,"body":"hi"}`, 200, "hi"},
	{`{"statusCode":201,"headers":{"a":"b"},"multiValueHeaders":{"a":["b","c"]},"body":"x","isBase64Encoded":false}`, 201, "x"},
	{` {"body":"no status"} `, 0, "no status"},
}

// TestMalformedProxyResponse drives the real bootstrap of testdata/function,
// which returns whatever JSON the event's body names: every malformed
// response is a *MalformedResponseError (not a *FunctionError: the
// function did answer), and every well-formed one decodes.
func TestMalformedProxyResponse(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{})
	invoke := func(response string) (events.APIGatewayProxyResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return p.Invoke(ctx, &events.APIGatewayWebsocketProxyRequest{
			Body:           "return:" + response,
			RequestContext: events.APIGatewayWebsocketProxyRequestContext{RouteKey: "$default", EventType: "MESSAGE", ConnectionID: "Zw6VnDsn7eG6En0="},
		})
	}
	for _, tc := range malformedResponses {
		resp, err := invoke(tc.response)
		var me *lambdaruntime.MalformedResponseError
		var fe *lambdaruntime.FunctionError
		if !errors.As(err, &me) || errors.As(err, &fe) {
			t.Errorf("response %s: %+v, %v; want a *MalformedResponseError", tc.response, resp, err)
			continue
		}
		if !strings.HasPrefix(me.Reason, tc.reason) || me.Response != tc.response {
			t.Errorf("response %s: reason %q, response %q; want reason %q", tc.response, me.Reason, me.Response, tc.reason)
		}
	}
	for _, tc := range wellFormedResponses {
		resp, err := invoke(tc.response)
		if err != nil || resp.StatusCode != tc.status || resp.Body != tc.body {
			t.Errorf("response %s: %+v, %v; want status %d, body %q", tc.response, resp, err, tc.status, tc.body)
		}
	}
	if st := p.Stats(); st.Started != 1 {
		t.Errorf("a malformed response must leave the instance warm: %+v", st)
	}
}

// TestMalformedProxyResponseFrame: behind the emulator, as under
// `mullet dev -runtime lambda`, a malformed proxy response gives the client
// API Gateway's "Internal server error" frame, and the connection stays
// open.
func TestMalformedProxyResponseFrame(t *testing.T) {
	p, _ := newPool(t, lambdaruntime.Options{})
	srv, err := emulator.Listen("127.0.0.1:0", &emulator.Options{
		Manifest: &manifest.Manifest{
			Version: manifest.Version, Name: "malformed", RouteSelectionExpression: "$request.body.action",
			Routes: []manifest.Route{{Key: "$connect"}, {Key: "$default"}, {Key: "$disconnect"}},
		},
		Invoke: func(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			if ev.RequestContext.EventType != "MESSAGE" {
				return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
			}
			return p.Invoke(ctx, ev)
		},
		Logger: slogTo(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx) }()
	t.Cleanup(func() { srv.Close(); cancel(); <-done })

	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, srv.WebSocketURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for _, tc := range malformedResponses {
		if err := c.Write(dctx, websocket.MessageText, []byte("return:"+tc.response)); err != nil {
			t.Fatal(err)
		}
		_, frame, err := c.Read(dctx)
		if err != nil {
			t.Fatalf("response %s: %v", tc.response, err)
		}
		if !strings.HasPrefix(string(frame), `{"message": "Internal server error", "connectionId":"`) {
			t.Errorf("response %s gave the frame %s; want API Gateway's Internal server error frame", tc.response, frame)
		}
	}
}
