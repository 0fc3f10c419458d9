package lambdaruntime_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mulletgo/mullet/local/lambdaruntime"
)

// rawModeEnv makes the test binary a hand-written Runtime API client
// (rawRuntime) instead of running tests, so that the protocol can be probed
// below what aws-lambda-go does.
const rawModeEnv = "LAMBDARUNTIME_TEST_RAW"

func slogTo(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// rawReport is what rawRuntime answers.
type rawReport struct {
	Headers map[string]string
	Payload string
	Status  map[string]int
}

// rawRuntime polls the Runtime API at AWS_LAMBDA_RUNTIME_API and answers
// as mode says:
//
//	echo     each event with the headers and payload it came with
//	probe    the first event with the statuses of misuses of the API, the
//	         second with the status of answering the first one twice
//	skip     never; it polls again without answering
//	garbage  each event with a body that is not JSON
func rawRuntime(mode string) {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/"
	do := func(method, path, body string) (*http.Response, []byte) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			os.Exit(10)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			os.Exit(11)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, data
	}
	status := func(method, path, body string) int {
		resp, _ := do(method, path, body)
		return resp.StatusCode
	}
	answer := func(id string, r rawReport) int {
		data, _ := json.Marshal(r)
		return status(http.MethodPost, "invocation/"+id+"/response", string(data))
	}
	var secondAnswer int
	for n := 0; ; n++ {
		resp, payload := do(http.MethodGet, "invocation/next", "")
		if resp.StatusCode != http.StatusOK {
			os.Exit(12)
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		headers := map[string]string{}
		for k := range resp.Header {
			headers[k] = resp.Header.Get(k)
		}
		switch mode {
		case "echo":
			answer(id, rawReport{Headers: headers, Payload: string(payload)})
		case "probe":
			if n == 0 {
				r := rawReport{Status: map[string]int{
					"unknown id":            status(http.MethodPost, "invocation/00000000-0000-4000-8000-000000000000/response", "{}"),
					"init error after init": status(http.MethodPost, "init/error", `{"errorMessage":"late","errorType":"X"}`),
					"unknown path":          status(http.MethodGet, "invocation/"+id, ""),
				}}
				answer(id, r)
				secondAnswer = answer(id, rawReport{})
			} else {
				answer(id, rawReport{Status: map[string]int{"second answer": secondAnswer}})
			}
		case "skip":
		case "garbage":
			status(http.MethodPost, "invocation/"+id+"/response", "not json")
		}
	}
}

func newRawPool(t *testing.T, mode string) *lambdaruntime.Pool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := newPool(t, lambdaruntime.Options{Bootstrap: exe, Env: []string{rawModeEnv + "=" + mode}, Timeout: 5 * time.Second})
	return p
}

func rawCall(t *testing.T, p *lambdaruntime.Pool, req *lambdaruntime.Request) (rawReport, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := p.InvokeRaw(ctx, req)
	if err != nil {
		return rawReport{}, err
	}
	var r rawReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("answer %q: %v", out, err)
	}
	return r, nil
}

func TestNextHeaders(t *testing.T) {
	p := newRawPool(t, "echo")
	plain, err := rawCall(t, p, &lambdaruntime.Request{Payload: []byte(`{"body":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Payload != `{"body":"x"}` {
		t.Errorf("payload %q", plain.Payload)
	}
	for _, h := range []string{"Lambda-Runtime-Aws-Request-Id", "Lambda-Runtime-Deadline-Ms", "Lambda-Runtime-Invoked-Function-Arn", "Lambda-Runtime-Trace-Id"} {
		if plain.Headers[h] == "" {
			t.Errorf("header %s missing: %v", h, plain.Headers)
		}
	}
	for _, h := range []string{"Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity"} {
		if _, ok := plain.Headers[h]; ok {
			t.Errorf("header %s sent though not set", h)
		}
	}
	const cc, ci = `{"custom":{"k":"v"}}`, `{"CognitoIdentityID":"id-1"}`
	with, err := rawCall(t, p, &lambdaruntime.Request{Payload: []byte(`{}`), ClientContext: cc, CognitoIdentity: ci})
	if err != nil {
		t.Fatal(err)
	}
	if with.Headers["Lambda-Runtime-Client-Context"] != cc || with.Headers["Lambda-Runtime-Cognito-Identity"] != ci {
		t.Errorf("headers %v", with.Headers)
	}

	// aws-lambda-go decodes them into the handler's context.
	fp, _ := newPool(t, lambdaruntime.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := fp.InvokeRaw(ctx, &lambdaruntime.Request{Payload: []byte(`{"body":"x"}`), ClientContext: cc, CognitoIdentity: ci})
	if err != nil {
		t.Fatal(err)
	}
	var resp struct{ Body string }
	var got info
	if err := json.Unmarshal(out, &resp); err != nil || json.Unmarshal([]byte(resp.Body), &got) != nil {
		t.Fatalf("answer %s", out)
	}
	if got.ClientContext["k"] != "v" || got.CognitoIdentity != "id-1" {
		t.Errorf("the handler saw client context %v and identity %q", got.ClientContext, got.CognitoIdentity)
	}
}

func TestProtocolMisuse(t *testing.T) {
	p := newRawPool(t, "probe")
	first, err := rawCall(t, p, &lambdaruntime.Request{Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	for probe, want := range map[string]int{"unknown id": 400, "init error after init": 403, "unknown path": 404} {
		if got := first.Status[probe]; got != want {
			t.Errorf("%s: status %d, want %d", probe, got, want)
		}
	}
	second, err := rawCall(t, p, &lambdaruntime.Request{Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := second.Status["second answer"]; got != 403 {
		t.Errorf("answering twice: status %d, want 403", got)
	}
}

func TestNextWithoutAnswer(t *testing.T) {
	p := newRawPool(t, "skip")
	_, err := rawCall(t, p, &lambdaruntime.Request{Payload: []byte(`{}`)})
	functionError(t, err, lambdaruntime.ErrorTypeInvalidState)
}

func TestResponseNotAProxyResponse(t *testing.T) {
	p := newRawPool(t, "garbage")
	_, err := call(t, p, "x")
	var fe *lambdaruntime.FunctionError
	var me *lambdaruntime.MalformedResponseError
	if err == nil || errors.As(err, &fe) || !errors.As(err, &me) || me.Reason != "it is not JSON, not a JSON object" {
		t.Fatalf("err %v", err)
	}
}
