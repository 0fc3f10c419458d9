package framework_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/manifest"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

func mustPanic(t *testing.T, want string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		p := recover()
		if p == nil {
			t.Fatalf("no panic; want one mentioning %q", want)
		}
		if msg, _ := p.(string); !strings.Contains(msg, want) {
			t.Fatalf("panic %v; want one mentioning %q", p, want)
		}
	}()
	fn()
}

func allowAll(context.Context, *framework.ConnectRequest) (framework.AuthContext, error) {
	return nil, nil
}

func TestConnectAuthDeclaration(t *testing.T) {
	mustPanic(t, "not both", func() {
		app := framework.New[struct{}]("a", nil)
		app.Authorize(allowAll, nil)
		app.RequireIAM()
	})
	mustPanic(t, "not both", func() {
		app := framework.New[struct{}]("a", nil)
		app.RequireIAM()
		app.Authorize(allowAll, nil)
	})
	mustPanic(t, "called twice", func() {
		app := framework.New[struct{}]("a", nil)
		app.RequireAPIKeys(nil)
		app.RequireAPIKeys(nil)
	})
	mustPanic(t, "appears twice", func() {
		framework.New[struct{}]("a", nil).RequireAPIKeys(&framework.APIKeyOptions{Plans: []framework.UsagePlan{{Name: "free"}, {Name: "free"}}})
	})
	mustPanic(t, "quota period", func() {
		framework.New[struct{}]("a", nil).RequireAPIKeys(&framework.APIKeyOptions{Plans: []framework.UsagePlan{{Name: "free", Quota: &framework.Quota{Limit: 5, Period: "HOUR"}}}})
	})
	mustPanic(t, "call app.Authorize before RequireAPIKeys", func() {
		framework.New[struct{}]("a", nil).RequireAPIKeys(&framework.APIKeyOptions{FromAuthorizer: true})
	})

	app := framework.New[struct{}]("a", nil)
	app.RequireIAM()
	throttle := &framework.Throttle{RatePerSecond: 10, Burst: 20}
	opts := &framework.APIKeyOptions{Plans: []framework.UsagePlan{
		{Name: "paid", Throttle: throttle},
		{Name: "free", Throttle: &framework.Throttle{RatePerSecond: 1, Burst: 2}, Quota: &framework.Quota{Limit: 100, Period: "DAY"}},
	}}
	app.RequireAPIKeys(opts)
	throttle.Burst = 999 // the declaration kept its own copy
	m := app.Manifest()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	ca := m.ConnectAuth
	if ca == nil || !ca.IAM || ca.APIKeys == nil || len(ca.APIKeys.Plans) != 2 || ca.APIKeys.Plans[0].Name != "free" ||
		ca.APIKeys.Plans[1].Throttle.Burst != 20 || ca.APIKeys.KeySelectionExpression() != manifest.APIKeyFromHeader {
		data, _ := m.Marshal()
		t.Fatalf("manifest:\n%s", data)
	}

	def := framework.New[struct{}]("b", nil)
	def.RequireAPIKeys(nil)
	if p := def.Manifest().ConnectAuth.APIKeys.Plans; len(p) != 1 || p[0].Name != "default" || p[0].Throttle != nil || p[0].Quota != nil {
		t.Fatalf("default plans %+v", p)
	}
}

// countingStore counts GetConnection calls.
type countingStore struct {
	store.Store
	gets atomic.Int64
}

func (s *countingStore) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	s.gets.Add(1)
	return s.Store.GetConnection(ctx, id)
}

// TestIdentity: the $connect event's identity (captured field names, see
// testdata/connect-iam-apikey.json) reaches OnConnect for free, and later
// invocations, whose events carry only the source IP, get it from the
// connection's record with one read per invocation, without the API key
// itself.
func TestIdentity(t *testing.T) {
	app := framework.New[struct{}]("ident", nil)
	app.RequireIAM()
	app.RequireAPIKeys(nil)
	var mu sync.Mutex
	seen := map[string]framework.Identity{}
	record := func(ctx context.Context, c *framework.Conn[struct{}]) error {
		id, err := c.Identity(ctx)
		if err != nil {
			return err
		}
		if again, err := c.Identity(ctx); err != nil || again != id {
			t.Errorf("second Identity = %+v, %v", again, err)
		}
		if _, err := c.AuthContext(ctx); err != nil {
			return err
		}
		mu.Lock()
		seen[c.RouteKey()] = id
		mu.Unlock()
		return nil
	}
	app.OnConnect(record)
	framework.Handle(app, "who", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error { return record(ctx, c) }, nil)
	st := &countingStore{Store: memstore.New(nil)}
	fn := framework.LambdaHandler(app.Bind(&framework.Runtime{Store: st}))

	connect := loadEvent(t, "connect-iam-apikey.json")
	connect.RequestContext.ConnectedAt = time.Now().UnixMilli()
	if resp, err := fn(context.Background(), connect); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("connect: %+v %v", resp, err)
	}
	want := framework.Identity{AccessKey: "ASIAEXAMPLEKEYID", AccountID: "123456789012", Caller: "AROAEXAMPLEROLEID:worker",
		User: "AROAEXAMPLEROLEID:worker", UserARN: "arn:aws:sts::123456789012:assumed-role/worker/worker", APIKeyID: "k7x2c9q1ab"}
	if got := seen["$connect"]; got != want {
		t.Fatalf("$connect identity %+v, want %+v", got, want)
	}
	if n := st.gets.Load(); n != 0 {
		t.Fatalf("$connect read the record %d times", n)
	}
	rec, err := st.Store.GetConnection(context.Background(), connect.RequestContext.ConnectionID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(rec)
	if strings.Contains(string(raw), "tenantAkey") {
		t.Fatalf("the record keeps the API key itself: %s", raw)
	}

	msg := loadEvent(t, "message.json")
	msg.RequestContext.ConnectionID = connect.RequestContext.ConnectionID
	msg.RequestContext.RouteKey = "who"
	msg.Body = `{"action":"who"}`
	if msg.RequestContext.Identity != (events.APIGatewayRequestIdentity{SourceIP: msg.RequestContext.Identity.SourceIP, UserAgent: msg.RequestContext.Identity.UserAgent}) {
		t.Fatalf("the message fixture carries more than API Gateway sends: %+v", msg.RequestContext.Identity)
	}
	if resp, err := fn(context.Background(), msg); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("message: %+v %v", resp, err)
	}
	if got := seen["who"]; got != want {
		t.Fatalf("later identity %+v, want %+v", got, want)
	}
	if n := st.gets.Load(); n != 1 {
		t.Fatalf("Identity twice and AuthContext cost %d reads, want 1", n)
	}

	// An app that requires neither gets the zero Identity, with no read.
	plain := framework.New[struct{}]("plain", nil)
	var got framework.Identity
	framework.Handle(plain, "who", func(ctx context.Context, c *framework.Conn[struct{}], _ struct{}) error {
		var err error
		got, err = c.Identity(ctx)
		return err
	}, nil)
	st2 := &countingStore{Store: memstore.New(nil)}
	fn2 := framework.LambdaHandler(plain.Bind(&framework.Runtime{Store: st2}))
	if _, err := fn2(context.Background(), msg); err != nil || got != (framework.Identity{}) || st2.gets.Load() != 0 {
		t.Fatalf("plain app: %+v, %d reads, %v", got, st2.gets.Load(), err)
	}
}

// TestLambdaAuthorizerUsageIdentifierKey: with keys taken from the
// authorizer, its UsageIdentifierKey becomes the response's
// usageIdentifierKey, not a context entry.
func TestLambdaAuthorizerUsageIdentifierKey(t *testing.T) {
	app := framework.New[struct{}]("keys", nil)
	app.Authorize(func(context.Context, *framework.ConnectRequest) (framework.AuthContext, error) {
		return framework.AuthContext{"tenant": "a", framework.UsageIdentifierKey: "tenant-a-key-0123456789"}, nil
	}, nil)
	app.RequireAPIKeys(&framework.APIKeyOptions{FromAuthorizer: true})
	resp, err := app.LambdaAuthorizer()(context.Background(), framework.LambdaAuthorizerEvent{MethodArn: "arn:aws:execute-api:us-east-1:123456789012:abc/prod/$connect"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.UsageIdentifierKey != "tenant-a-key-0123456789" || resp.Context["tenant"] != "a" || resp.Context[framework.UsageIdentifierKey] != nil {
		t.Fatalf("response %+v", resp)
	}
}
