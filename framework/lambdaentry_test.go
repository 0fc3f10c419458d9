package framework_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mulletgo/mullet/framework"
)

// TestLambdaEntry: one function serves both API Gateway's REQUEST
// authorizer events and the app's websocket events, through aws-lambda-go's
// handler types.
func TestLambdaEntry(t *testing.T) {
	app := framework.New[struct{}]("guarded", nil)
	app.Authorize(func(ctx context.Context, req *framework.ConnectRequest) (framework.AuthContext, error) {
		if req.Query.Get("token") != "open-sesame" {
			return nil, framework.Reject(http.StatusUnauthorized, "bad token")
		}
		return framework.AuthContext{"user": "ann"}, nil
	}, &framework.AuthorizeOptions{IdentitySources: []string{"route.request.querystring.token"}})
	if m := app.Manifest(); m.Authorizer == nil || len(m.Authorizer.IdentitySources) != 1 {
		t.Fatalf("manifest authorizer = %+v", m.Authorizer)
	}
	var aa framework.AuthorizingApplication = app
	h := lambda.NewHandler(framework.LambdaEntry(app.Bind(nil), aa.LambdaAuthorizer()))

	raw, err := os.ReadFile(filepath.Join("testdata", "authorizer-request.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	json.Unmarshal(raw, &ev)
	ev["queryStringParameters"] = map[string]any{"token": "open-sesame"}
	ev["multiValueQueryStringParameters"] = map[string]any{"token": []any{"open-sesame"}}
	allow, _ := json.Marshal(ev)
	out, err := h.Invoke(context.Background(), allow)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayCustomAuthorizerResponse
	json.Unmarshal(out, &resp)
	if len(resp.PolicyDocument.Statement) != 1 || resp.PolicyDocument.Statement[0].Effect != "Allow" || resp.Context["user"] != "ann" {
		t.Fatalf("authorizer response = %s", out)
	}
	ev["queryStringParameters"] = map[string]any{"token": "wrong"}
	ev["multiValueQueryStringParameters"] = map[string]any{"token": []any{"wrong"}}
	deny, _ := json.Marshal(ev)
	if _, err := h.Invoke(context.Background(), deny); err == nil || err.Error() != "Unauthorized" {
		t.Fatalf("bad token: %v, want Unauthorized", err)
	}

	connect, err := os.ReadFile(filepath.Join("testdata", "connect.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := h.Invoke(context.Background(), connect); err != nil || string(out) == "" {
		t.Fatalf("websocket event through the same entry: %s, %v", out, err)
	}

	plain := framework.New[struct{}]("open", nil)
	entry := framework.LambdaEntry(plain.Bind(nil), nil)
	if _, err := entry(context.Background(), allow); err == nil {
		t.Fatal("an authorizer event reached an app without authorizer and was accepted")
	}
}
