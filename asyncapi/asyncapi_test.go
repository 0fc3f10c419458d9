package asyncapi_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mulletgo/mullet/asyncapi"
	chat "github.com/mulletgo/mullet/examples/chat/app"
	rendezvous "github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/manifest"
)

// exampleManifests are the manifests of the repository's examples.
func exampleManifests(t *testing.T) map[string]*manifest.Manifest {
	t.Helper()
	return map[string]*manifest.Manifest{
		"chat":       chat.New().Manifest(),
		"rendezvous": rendezvous.New(2).Manifest(),
	}
}

// needNode finds node and a package of node_modules, skipping (failing
// under CI=true) without them.
func needNode(t *testing.T, pkg string) (node, root string) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	node, err = exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "node_modules", pkg, "package.json"))
	}
	if err != nil {
		msg := "needs node and the npm package " + pkg + " (run npm ci at the repository root): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node, root
}

func writeDocument(t *testing.T, dir, name string, m *manifest.Manifest) string {
	t.Helper()
	doc, err := asyncapi.Document(m, &asyncapi.Options{LocalURL: "ws://127.0.0.1:8080/local"})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	path := filepath.Join(dir, name+".asyncapi.json")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestParserValidatesExamples runs the official AsyncAPI parser over the
// documents of both examples and of a test app that declares everything
// the generator describes: 0 errors.
func TestParserValidatesExamples(t *testing.T) {
	node, _ := needNode(t, "@asyncapi/parser")
	dir := t.TempDir()
	var files []string
	for name, m := range exampleManifests(t) {
		files = append(files, writeDocument(t, dir, name, m))
	}
	files = append(files, writeDocument(t, dir, "full", fullManifest()))
	out, err := exec.Command(node, append([]string{"testdata/validate.cjs"}, files...)...).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the AsyncAPI parser found errors: %v", err)
	}

	// The check can fail: a document with an operation whose action is
	// neither send nor receive has errors.
	doc, _ := os.ReadFile(files[0])
	broken := filepath.Join(dir, "broken.asyncapi.json")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(doc), `"action": "receive"`, `"action": "publish"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "testdata/validate.cjs", broken).CombinedOutput(); err == nil {
		t.Fatalf("the parser accepted a broken document:\n%s", out)
	}
}

// fullManifest declares sessions, durable groups with presence, a Lambda
// authorizer, API keys, replies and pushes.
func fullManifest() *manifest.Manifest {
	said := manifest.Message{Name: "Said", Schema: []byte(`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","properties":{"from":{"type":"string"},"n":{"type":"integer","minimum":0,"exclusiveMinimum":true}},"required":["from","n"],"additionalProperties":false}`)}
	return &manifest.Manifest{
		Version: manifest.Version, Name: "full", RouteSelectionExpression: "$request.body.action",
		Routes: []manifest.Route{
			{Key: "$connect"}, {Key: "$disconnect"}, {Key: "$default"},
			{Key: "say", TwoWay: true, Model: "SayModel", Replies: &said,
				Schema: []byte(`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","properties":{"action":{"type":"string"},"$rid":{"type":"string"},"text":{"type":"string","maxLength":10},"score":{"type":"number","maximum":5,"exclusiveMaximum":true}},"required":["text"],"additionalProperties":false}`)},
			{Key: "chat/send", Model: "ChatSendModel", Schema: []byte(`{"type":"object","properties":{"item":{"$ref":"#/definitions/item"}},"definitions":{"item":{"type":"object","properties":{"next":{"$ref":"#/definitions/item"}}}}}`)},
		},
		State:       manifest.State{TTLSeconds: 60},
		Authorizer:  &manifest.Authorizer{IdentitySources: []string{"route.request.querystring.token"}},
		ConnectAuth: &manifest.ConnectAuth{APIKeys: &manifest.APIKeys{Plans: []manifest.UsagePlan{{Name: "free"}}}},
		Continuity:  &manifest.Continuity{Sessions: true, SessionTTLSeconds: 300, Groups: []manifest.GroupSpec{{Prefix: "room:", Durable: true, Window: 10, Presence: true}}},
		Pushes:      []manifest.Push{{Group: "room:", Message: said}},
	}
}

func document(t *testing.T, m *manifest.Manifest) map[string]any {
	t.Helper()
	data, err := asyncapi.Document(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func lookup(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object", strings.Join(path, "/"))
		}
		v = m[p]
	}
	return v
}

func TestDocument(t *testing.T) {
	doc := document(t, fullManifest())
	if doc["asyncapi"] != "3.0.0" {
		t.Fatalf("asyncapi = %v", doc["asyncapi"])
	}
	ws := lookup(t, doc, "channels", "websocket", "bindings", "ws")
	for _, q := range []string{"token", "mullet_session", "mullet_secret", "mullet_next"} {
		if lookup(t, ws, "query", "properties", q) == nil {
			t.Errorf("the ws binding's query lacks %s", q)
		}
	}
	if lookup(t, ws, "headers", "properties", "x-api-key") == nil {
		t.Error("the ws binding's headers lack x-api-key")
	}
	for _, s := range []string{"authorizer_token", "apiKey"} {
		if lookup(t, doc, "components", "securitySchemes", s) == nil {
			t.Errorf("no security scheme %s", s)
		}
	}
	for _, op := range []string{"receiveSay", "receiveChatSend", "receiveDefault", "broadcastRoom", "receiveSync", "sendMsg", "sendDiscontinuity", "sendPresence"} {
		if lookup(t, doc, "operations", op) == nil {
			t.Errorf("no operation %s", op)
		}
	}
	if got := lookup(t, doc, "operations", "receiveSay", "x-mullet-route", "key"); got != "say" {
		t.Errorf("receiveSay route key = %v", got)
	}
	replies, _ := lookup(t, doc, "operations", "receiveSay", "reply", "messages").([]any)
	if len(replies) != 2 || lookup(t, replies[0], "$ref") != "#/channels/websocket/messages/Said" {
		t.Errorf("receiveSay replies = %v", replies)
	}
	say := lookup(t, doc, "components", "schemas", "SayRequest")
	if got := lookup(t, say, "properties", "action", "const"); got != "say" {
		t.Errorf("the route selection field is not fixed to the key: %v", got)
	}
	if got := lookup(t, say, "properties", "score"); lookup(t, got, "exclusiveMaximum") != 5.0 || lookup(t, got, "maximum") != nil {
		t.Errorf("exclusiveMaximum not converted: %v", got)
	}
	if lookup(t, say, "$schema") != nil {
		t.Error("$schema kept")
	}
	if got := lookup(t, doc, "components", "schemas", "ChatSendRequest", "properties", "item", "$ref"); got != "#/components/schemas/ChatSendRequest/definitions/item" {
		t.Errorf("local $ref not re-rooted: %v", got)
	}
	if got := lookup(t, doc, "components", "schemas", "Said", "properties", "n", "exclusiveMinimum"); got != 0.0 {
		t.Errorf("exclusiveMinimum not converted: %v", got)
	}
}

func TestDocumentDeterministic(t *testing.T) {
	a, _ := asyncapi.Document(fullManifest(), nil)
	for range 5 {
		if b, _ := asyncapi.Document(fullManifest(), nil); string(a) != string(b) {
			t.Fatal("two documents of one manifest differ")
		}
	}
}

// TestDocumentFollowsDeclaration: adding a route or an outbound type
// changes the document.
func TestDocumentFollowsDeclaration(t *testing.T) {
	m := exampleManifests(t)["chat"]
	before, err := asyncapi.Document(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	withRoute := *m
	withRoute.Routes = append(append([]manifest.Route(nil), m.Routes...), manifest.Route{Key: "typing", Model: "TypingModel", Schema: []byte(`{"type":"object"}`)})
	afterRoute, err := asyncapi.Document(&withRoute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(afterRoute) == string(before) || !strings.Contains(string(afterRoute), `"receiveTyping"`) {
		t.Fatal("adding a route did not add its operation")
	}
	withPush := *m
	withPush.Pushes = []manifest.Push{{Group: "", Message: manifest.Message{Name: "Line", Schema: []byte(`{"type":"object","properties":{"text":{"type":"string"}}}`)}}}
	afterPush, err := asyncapi.Document(&withPush, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(afterPush) == string(before) || !strings.Contains(string(afterPush), `"broadcastAnyGroup"`) || !strings.Contains(string(afterPush), `"Line"`) {
		t.Fatal("declaring an outbound type did not add it")
	}
}

func TestDocumentRejects(t *testing.T) {
	m := fullManifest()
	m.Pushes = append(m.Pushes, manifest.Push{Group: "x", Message: manifest.Message{Name: "SayRequest", Schema: []byte(`{"type":"string"}`)}})
	if _, err := asyncapi.Document(m, nil); err == nil || !strings.Contains(err.Error(), "SayRequest") {
		t.Fatalf("a push type named like a route's request: err = %v", err)
	}
	bad := fullManifest()
	bad.Name = ""
	if _, err := asyncapi.Document(bad, nil); err == nil {
		t.Fatal("an invalid manifest gave a document")
	}
	if _, err := asyncapi.Document(fullManifest(), &asyncapi.Options{LocalURL: "http://x"}); err == nil {
		t.Fatal("a non-WebSocket LocalURL was accepted")
	}
}

// TestTypeScriptCompiles type-checks the TypeScript types generated for the
// chat example and the test app with the pinned TypeScript compiler (npx
// tsc --noEmit): a fixture that uses them right compiles, and fixtures with
// a wrong payload (inbound and outbound) fail to.
func TestTypeScriptCompiles(t *testing.T) {
	node, root := needNode(t, "typescript")
	tsc := filepath.Join(root, "node_modules", "typescript", "bin", "tsc")
	dir := t.TempDir()
	for name, m := range map[string]*manifest.Manifest{"chat": exampleManifests(t)["chat"], "full": fullManifest()} {
		ts, err := asyncapi.TypeScript(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".ts"), ts, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"good.ts", "bad.ts", "bad_reply.ts", "bad_msg.ts"} {
		data, err := os.ReadFile(filepath.Join("testdata", "ts", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(file string) (string, error) {
		cmd := exec.Command(node, tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler", "--types", "", file)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := check("good.ts"); err != nil {
		t.Fatalf("the generated types do not compile with a correct fixture: %v\n%s", err, out)
	}
	for _, bad := range []string{"bad.ts", "bad_reply.ts", "bad_msg.ts"} {
		out, err := check(bad)
		if err == nil {
			t.Fatalf("%s type-checked; its wrong payload should not", bad)
		}
		if !strings.Contains(out, bad+"(") || !strings.Contains(out, "error TS") {
			t.Fatalf("%s failed for another reason than its payload:\n%s", bad, out)
		}
		t.Logf("%s, as expected:\n%s", bad, out)
	}
}
