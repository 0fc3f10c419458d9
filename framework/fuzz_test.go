package framework_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// fuzzApp has a route of every kind: two-way and one-way, with state, a
// schema, errors, $default, an authorizer, $connect and $disconnect.
func fuzzApp() *framework.App[profile] {
	app := framework.New[profile]("fuzz", nil)
	app.Authorize(func(ctx context.Context, req *framework.ConnectRequest) (framework.AuthContext, error) {
		switch req.Header.Get("Authorization") {
		case "deny":
			return nil, framework.Reject(http.StatusForbidden, "denied")
		case "fail":
			return nil, errors.New("authorizer failed")
		}
		return framework.AuthContext{"user": req.Query.Get("user")}, nil
	}, nil)
	app.OnConnect(func(ctx context.Context, c *framework.Conn[profile]) error {
		_, err := c.AuthContext(ctx)
		return err
	})
	app.OnDisconnect(func(ctx context.Context, c *framework.Conn[profile]) error {
		_, err := c.State(ctx)
		return err
	})
	framework.Handle(app, "echo", func(ctx context.Context, c *framework.Conn[profile], m echoMsg) error {
		return c.ReplyJSON(ctx, m)
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "nick", func(ctx context.Context, c *framework.Conn[profile], m nickMsg) error {
		if err := c.UpdateState(ctx, func(p *profile) error { p.Nick = m.Nick; return nil }); err != nil {
			return err
		}
		_, err := c.AuthContext(ctx)
		return err
	}, nil)
	framework.Handle(app, "join", func(ctx context.Context, c *framework.Conn[profile], m struct {
		Room string `json:"room" schema:"minLength=1,maxLength=8"`
	}) error {
		if err := c.Join(ctx, m.Room); err != nil {
			return err
		}
		_, err := c.BroadcastJSON(ctx, m.Room, m)
		return err
	}, nil)
	framework.Handle(app, "refuse", func(ctx context.Context, c *framework.Conn[profile], _ struct{}) error {
		return framework.NewError(http.StatusConflict, "no")
	}, &framework.RouteOptions{TwoWay: true})
	framework.Handle(app, "fail", func(ctx context.Context, c *framework.Conn[profile], _ struct{}) error {
		return errors.New("failed")
	}, nil)
	app.Default(func(ctx context.Context, c *framework.Conn[profile], body []byte) error {
		return c.ReplyText(ctx, string(body))
	}, nil)
	return app
}

// FuzzLambdaEvent hands arbitrary JSON to the app exactly as the Lambda
// runtime does (lambda.NewHandler around framework.LambdaHandler). Invoke
// never panics and never fails: every payload that decodes as an API
// Gateway WebSocket event gets a well-formed response with an HTTP status,
// and every refused message gets an API-Gateway-shaped error frame for its
// own connection.
func FuzzLambdaEvent(f *testing.F) {
	for _, name := range []string{"connect.json", "message.json", "disconnect.json", "authorizer-request.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{}`, `null`, `[]`, `{"requestContext":{"eventType":"MESSAGE","routeKey":"echo","connectionId":"c1"},"body":"{\"action\":\"echo\",\"text\":\"hi\"}"}`,
		`{"requestContext":{"eventType":"MESSAGE","routeKey":"nick","connectionId":"c1"},"body":"{\"action\":\"nick\",\"nick\":\"ann\"}"}`,
		`{"requestContext":{"eventType":"MESSAGE","routeKey":"$default","connectionId":"c1"},"body":"aGk=","isBase64Encoded":true}`,
		`{"requestContext":{"eventType":"MESSAGE","routeKey":"$default","connectionId":"c1"},"body":"%%%","isBase64Encoded":true}`,
		`{"requestContext":{"eventType":"CONNECT","connectionId":"c1","authorizer":{"principalId":"p","n":1}},"headers":{"Authorization":"deny"}}`,
		`{"requestContext":{"eventType":"CONNECT","connectionId":"c2"},"headers":{"Authorization":"deny"}}`,
		`{"requestContext":{"eventType":"CONNECT","connectionId":"c3"},"multiValueHeaders":{"authorization":["fail"]}}`,
		`{"requestContext":{"eventType":"MESSAGE","routeKey":"join","connectionId":"c1","authorizer":"x"},"body":"{\"action\":\"join\",\"room\":\"r\"}"}`,
		`{"requestContext":{"eventType":"MESSAGE","connectionId":""},"body":"{\"action\":\"refuse\"}"}`,
		`{"requestContext":{"eventType":"MESSAGE","routeKey":"fail"},"body":"{\"action\":\"fail\"}"}`,
		`{"requestContext":{"eventType":"DISCONNECT","connectionId":"c1","disconnectStatusCode":1006}}`,
		`{"requestContext":{"routeKey":"$connect"}}`,
		`{"requestContext":{"eventType":"MESSAGE"},"body":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"}`,
	} {
		f.Add([]byte(s))
	}
	// The fixtures' clock, so that their connections have not expired.
	now := func() time.Time { return time.UnixMilli(1705751700453) }
	api := discardAPI{}
	cb := framework.NewCallbackWithAPI(func(string) framework.CallbackAPI { return api }, &framework.CallbackOptions{BaseBackoff: time.Microsecond})
	app := fuzzApp()
	logger := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, payload []byte) {
		// Every run starts from the same store: the fixtures' connection
		// and "c1" connected, with state, an authorizer context and a
		// group; "gone1" in the group but gone.
		st := memstore.New(&memstore.Options{Now: now})
		bg := context.Background()
		for _, id := range []string{"R1kmxc2VNjMCFIA=", "c1", "gone1"} {
			_ = st.PutConnection(bg, store.Connection{ID: id, ConnectedAt: now(), Expires: now().Add(time.Hour), Authorizer: map[string]string{"user": id}})
			_, _ = st.SaveState(bg, id, []byte(`{"nick":"x","count":1}`), 0)
			_ = st.JoinGroup(bg, "r", id)
		}
		inv := app.Bind(&framework.Runtime{Store: st, Callback: cb, Now: now, Logger: logger})
		handler := lambda.NewHandler(framework.LambdaHandler(inv))

		// The Lambda runtime decodes the first JSON value of the payload.
		var ev events.APIGatewayWebsocketProxyRequest
		decodeErr := json.NewDecoder(bytes.NewReader(payload)).Decode(&ev)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := handler.Invoke(ctx, payload)
		if decodeErr != nil {
			if err == nil {
				t.Fatalf("%q does not decode as an event (%v), yet Invoke answered %s", payload, decodeErr, out)
			}
			return
		}
		if err != nil {
			// Only a failing message handler is an invocation error (API
			// Gateway then sends its Internal server error frame).
			if !strings.Contains(err.Error(), "framework: handler failed") {
				t.Fatalf("Invoke(%q) failed: %v", payload, err)
			}
			return
		}
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("response %q is not an API Gateway proxy response: %v", out, err)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 599 {
			t.Fatalf("status %d for %q", resp.StatusCode, payload)
		}
		rc := ev.RequestContext
		// As Invoke dispatches: the event type first, then the route key.
		isConnect := rc.EventType == "CONNECT" || rc.EventType != "DISCONNECT" && rc.RouteKey == "$connect"
		isDisconnect := rc.EventType == "DISCONNECT" || rc.EventType != "CONNECT" && rc.RouteKey == "$disconnect"
		if resp.StatusCode >= 400 && !isConnect && !isDisconnect {
			var frame struct {
				Message      *string `json:"message"`
				ConnectionID *string `json:"connectionId"`
				RequestID    *string `json:"requestId"`
			}
			if err := json.Unmarshal([]byte(resp.Body), &frame); err != nil || frame.Message == nil || *frame.Message == "" || frame.ConnectionID == nil || frame.RequestID == nil {
				t.Fatalf("status %d with body %q for %q: not an error frame", resp.StatusCode, resp.Body, payload)
			}
			if *frame.ConnectionID != rc.ConnectionID || *frame.RequestID != rc.RequestID {
				t.Fatalf("error frame %q names another connection or request than %q", resp.Body, payload)
			}
		}
	})
}

// discardAPI accepts every @connections call and keeps nothing, except
// that IDs starting with "gone" are gone.
type discardAPI struct{}

func (discardAPI) PostToConnection(_ context.Context, in *apigatewaymanagementapi.PostToConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	if strings.HasPrefix(*in.ConnectionId, "gone") {
		return nil, &types.GoneException{}
	}
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

func (discardAPI) GetConnection(_ context.Context, in *apigatewaymanagementapi.GetConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.GetConnectionOutput, error) {
	if strings.HasPrefix(*in.ConnectionId, "gone") {
		return nil, &types.GoneException{}
	}
	return &apigatewaymanagementapi.GetConnectionOutput{}, nil
}

func (discardAPI) DeleteConnection(_ context.Context, in *apigatewaymanagementapi.DeleteConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error) {
	if strings.HasPrefix(*in.ConnectionId, "gone") {
		return nil, &types.GoneException{}
	}
	return &apigatewaymanagementapi.DeleteConnectionOutput{}, nil
}
