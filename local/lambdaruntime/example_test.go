package lambdaruntime_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mulletgo/mullet/local/lambdaruntime"
)

// A pool runs a function's real bootstrap (here testdata/function, an
// aws-lambda-go handler, built by TestMain with bootstrap.Build) and
// reports its failures as Lambda does.
func ExamplePool() {
	pool, err := lambdaruntime.NewPool(&lambdaruntime.Options{Bootstrap: bootstrap, Timeout: 3 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	ctx := context.Background()

	resp, err := pool.Invoke(ctx, &events.APIGatewayWebsocketProxyRequest{Body: "hello"})
	fmt.Println(resp.StatusCode, err)

	_, err = pool.Invoke(ctx, &events.APIGatewayWebsocketProxyRequest{Body: "panic"})
	var fe *lambdaruntime.FunctionError
	if errors.As(err, &fe) {
		fmt.Println(fe.Type, fe.Message)
	}

	// The instance exited after its panic; this starts another.
	resp, err = pool.Invoke(ctx, &events.APIGatewayWebsocketProxyRequest{Body: "hello"})
	fmt.Println(resp.StatusCode, err)
	st := pool.Stats()
	fmt.Println(st.Started, "instances,", st.Invocations, "invocations,", st.Errors, "failed")
	// Output:
	// 200 <nil>
	// string boom
	// 200 <nil>
	// 2 instances, 3 invocations, 1 failed
}
