// Command function is the test bootstrap of package lambdaruntime: an
// aws-lambda-go function for API Gateway WebSocket events whose behaviour
// the event's body chooses, and whose initialization TEST_INIT chooses. A
// body "return:<JSON>" makes it return that JSON as its response, whatever
// its shape.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Info is what the function answers to any other body: what it was told.
type Info struct {
	PID             int
	RequestID       string
	FunctionARN     string
	DeadlineMs      int64
	ClientContext   map[string]string
	CognitoIdentity string
	TraceID         string
	Body            string
	Env             map[string]string
}

func main() {
	switch os.Getenv("TEST_INIT") {
	case "exit":
		fmt.Fprintln(os.Stderr, "init: cannot start")
		os.Exit(3)
	case "error":
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"errorMessage":"no table configured","errorType":"Test.ConfigError"}`))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Test.ConfigError")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		time.Sleep(time.Hour) // the runtime kills an instance that reported an init error
		os.Exit(1)
	case "hang":
		time.Sleep(time.Hour)
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (any, error) {
		if raw, ok := strings.CutPrefix(ev.Body, "return:"); ok {
			// Return exactly this JSON, whatever its shape.
			return json.RawMessage(raw), nil
		}
		return handle(ctx, ev)
	})
}

func handle(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	var sleep time.Duration
	switch body := ev.Body; {
	case body == "panic":
		panic("boom")
	case body == "error":
		return events.APIGatewayProxyResponse{}, errors.New("handler failed")
	case body == "exit":
		os.Exit(4)
	case body == "overrun":
		// Outlive the deadline by far: the runtime must kill us.
		time.Sleep(time.Hour)
	case body == "big":
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: string(bytes.Repeat([]byte("x"), 7<<20))}, nil
	case strings.HasPrefix(body, "sleep:"):
		d, err := time.ParseDuration(strings.TrimPrefix(body, "sleep:"))
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		sleep = d
	}
	time.Sleep(sleep)
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	info := Info{
		PID:         os.Getpid(),
		RequestID:   lc.AwsRequestID,
		FunctionARN: lc.InvokedFunctionArn,
		DeadlineMs:  deadline.UnixMilli(),
		TraceID:     fmt.Sprint(ctx.Value("x-amzn-trace-id")),
		Body:        ev.Body,
		Env:         map[string]string{},
	}
	info.ClientContext = lc.ClientContext.Custom
	info.CognitoIdentity = lc.Identity.CognitoIdentityID
	for _, k := range []string{"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "EXTRA", "HOME", "TZ"} {
		info.Env[k] = os.Getenv(k)
	}
	data, err := json.Marshal(info)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: string(data)}, nil
}
