package dynalitetest_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mulletgo/mullet/mullettest/dynalitetest"
)

func TestStartAndStop(t *testing.T) {
	var srv *dynalitetest.Server
	t.Run("server", func(t *testing.T) {
		srv = dynalitetest.Start(t)
		u, err := url.Parse(srv.Endpoint)
		if err != nil || u.Hostname() != "127.0.0.1" {
			t.Fatalf("Endpoint = %q, want http://127.0.0.1:PORT", srv.Endpoint)
		}
		client := srv.NewClient(t)
		a, b := srv.NewTable(t), srv.NewTable(t)
		if a == b {
			t.Fatalf("NewTable gave %q twice", a)
		}
		for _, name := range []string{a, b} {
			out, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &name})
			if err != nil || out.Table.TableStatus != types.TableStatusActive {
				t.Fatalf("DescribeTable(%s) = %v, %v; want ACTIVE", name, out, err)
			}
		}
	})
	if srv == nil {
		return // skipped
	}
	// The subtest's cleanup stopped the server.
	u, _ := url.Parse(srv.Endpoint)
	if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after cleanup", srv.Endpoint)
	}
}

// TestUnavailable runs Start in a child process that cannot find node, or
// finds a repository root without node_modules: without CI it skips, with
// CI=true it fails, and either way it says how to install what is missing.
func TestUnavailable(t *testing.T) {
	if os.Getenv("DYNALITETEST_CHILD") == "1" {
		dynalitetest.Start(t)
		t.Fatal("Start returned without a server")
	}
	// A repository root without node_modules.
	bare := t.TempDir()
	if err := os.WriteFile(filepath.Join(bare, "go.mod"), []byte("module github.com/mulletgo/mullet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		noNode   bool
		dir      string
		ci       string
		wantFail bool
		want     []string
	}{
		{"no node", true, "", "", false, []string{"--- SKIP", "node", "npm ci"}},
		{"no node in CI", true, "", "true", true, []string{"--- FAIL", "node", "npm ci", "CI=true"}},
		{"no package", false, bare, "", false, []string{"--- SKIP", "dynalite is not installed", "npm ci", bare}},
		{"no package in CI", false, bare, "true", true, []string{"--- FAIL", "dynalite is not installed", "npm ci"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestUnavailable$", "-test.v")
			cmd.Dir = tc.dir
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "CI=") && !(tc.noNode && strings.HasPrefix(kv, "PATH=")) {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			if tc.noNode {
				cmd.Env = append(cmd.Env, "PATH="+t.TempDir())
			}
			cmd.Env = append(cmd.Env, "CI="+tc.ci, "DYNALITETEST_CHILD=1")
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tc.wantFail {
				t.Errorf("child failed = %v (%v), want %v; output:\n%s", failed, err, tc.wantFail, out)
			}
			for _, want := range tc.want {
				if !strings.Contains(string(out), want) {
					t.Errorf("output does not mention %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestConditionCheckFailureReturnsItem: the dynalite mullet starts answers
// a refused condition with the item as it was when asked
// (ReturnValuesOnConditionCheckFailure ALL_OLD), as DynamoDB does, on
// PutItem, UpdateItem and DeleteItem; without the parameter, with NONE, or
// with no item, the error carries none; a wrong value is a
// ValidationException.
func TestConditionCheckFailureReturnsItem(t *testing.T) {
	srv := dynalitetest.Start(t)
	client := srv.NewClient(t)
	table := srv.NewTable(t)
	ctx := context.Background()
	key := func(pk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "x"}}
	}
	item := key("there")
	item["v"] = &types.AttributeValueMemberN{Value: "1"}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item}); err != nil {
		t.Fatal(err)
	}
	cond := "v = :two"
	two := map[string]types.AttributeValue{":two": &types.AttributeValueMemberN{Value: "2"}}
	refused := func(pk string, ret types.ReturnValuesOnConditionCheckFailure) map[string]error {
		return map[string]error{
			"PutItem": func() error {
				_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: key(pk), ConditionExpression: &cond, ExpressionAttributeValues: two, ReturnValuesOnConditionCheckFailure: ret})
				return err
			}(),
			"UpdateItem": func() error {
				upd := "SET w = :two"
				_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key(pk), UpdateExpression: &upd, ConditionExpression: &cond, ExpressionAttributeValues: two, ReturnValuesOnConditionCheckFailure: ret})
				return err
			}(),
			"DeleteItem": func() error {
				_, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: key(pk), ConditionExpression: &cond, ExpressionAttributeValues: two, ReturnValuesOnConditionCheckFailure: ret})
				return err
			}(),
		}
	}
	for _, tc := range []struct {
		pk       string
		ret      types.ReturnValuesOnConditionCheckFailure
		wantItem bool
	}{
		{"there", types.ReturnValuesOnConditionCheckFailureAllOld, true},
		{"there", types.ReturnValuesOnConditionCheckFailureNone, false},
		{"there", "", false},
		{"absent", types.ReturnValuesOnConditionCheckFailureAllOld, false},
	} {
		for op, err := range refused(tc.pk, tc.ret) {
			var ccf *types.ConditionalCheckFailedException
			if !errors.As(err, &ccf) {
				t.Fatalf("%s %s with %q: %v; want ConditionalCheckFailedException", op, tc.pk, tc.ret, err)
			}
			switch v, _ := ccf.Item["v"].(*types.AttributeValueMemberN); {
			case tc.wantItem && (v == nil || v.Value != "1" || len(ccf.Item) != 3):
				t.Errorf("%s %s with %q: Item %v; want the stored item", op, tc.pk, tc.ret, ccf.Item)
			case !tc.wantItem && ccf.Item != nil:
				t.Errorf("%s %s with %q: Item %v; want none", op, tc.pk, tc.ret, ccf.Item)
			}
		}
	}
	for op, err := range refused("there", "SOME") {
		if err == nil || !strings.Contains(err.Error(), "ValidationException") {
			t.Errorf("%s with ReturnValuesOnConditionCheckFailure SOME: %v; want a ValidationException", op, err)
		}
	}
	// The item is as it was.
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key("there"), ConsistentRead: new(true)})
	if err != nil || len(out.Item) != 3 {
		t.Fatalf("GetItem after the refusals: %v, %v", out.Item, err)
	}
}
