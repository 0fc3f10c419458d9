package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/local/dashboard"
	"github.com/mulletgo/mullet/local/emulator"
	"github.com/mulletgo/mullet/local/otlpreceiver"
	"github.com/mulletgo/mullet/store"
)

// devDashboard is the dashboard of a mullet dev session and the OTLP
// receiver that feeds it the instances' spans. Both outlive API restarts.
type devDashboard struct {
	dash     *dashboard.Dashboard
	receiver *otlpreceiver.Server // nil when the spans go elsewhere
	// instanceEnv points the instances' OpenTelemetry exporters at the
	// receiver (or passes on the user's OTEL_* variables).
	instanceEnv []string
	// tracesTo is the banner's note on where the instances' spans go.
	tracesTo string
	// callbackURL is the @connections base URL of the current API, set by
	// each serveInstances before it accepts connections.
	callbackURL atomic.Pointer[string]
}

// otelEndpointVars are the variables that name where OTLP exporters send
// spans; set in mullet dev's environment, they win over the dashboard.
var otelEndpointVars = []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"}

// startDashboard starts the receiver and creates the dashboard of a
// session serving ws://addr/stage with the store inspect (nil: none).
func startDashboard(addr, stage, service string, inspect store.Inspector, environ []string) (*devDashboard, error) {
	d := &devDashboard{}
	var userOTel []string
	userEndpoint := ""
	for _, kv := range environ {
		if strings.HasPrefix(kv, "OTEL_") {
			userOTel = append(userOTel, kv)
			for _, name := range otelEndpointVars {
				if v, ok := strings.CutPrefix(kv, name+"="); ok && v != "" {
					userEndpoint = v
				}
			}
		}
	}
	d.dash = dashboard.New(&dashboard.Options{
		Store:        inspect,
		WebSocketURL: "ws://" + addr + "/" + stage,
		Push:         d.push,
	})
	d.instanceEnv = append(d.instanceEnv, userOTel...)
	if !hasVar(userOTel, "OTEL_SERVICE_NAME") {
		d.instanceEnv = append(d.instanceEnv, "OTEL_SERVICE_NAME="+service)
	}
	if userEndpoint != "" {
		d.tracesTo = "the instances export spans to " + userEndpoint + " (OTEL_* in mullet dev's environment), so the dashboard has no traces"
		return d, nil
	}
	srv, err := otlpreceiver.Listen("127.0.0.1:0", d.dash.AddSpans, nil)
	if err != nil {
		return nil, err
	}
	d.receiver = srv
	d.instanceEnv = append(d.instanceEnv, "OTEL_EXPORTER_OTLP_ENDPOINT="+srv.Endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
	d.tracesTo = "OTLP/HTTP receiver at " + srv.Endpoint + " (OTEL_EXPORTER_OTLP_ENDPOINT of the instances)"
	return d, nil
}

func hasVar(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

func (d *devDashboard) close() {
	if d != nil && d.receiver != nil {
		d.receiver.Close()
	}
}

// url is the dashboard's address for the banner.
func (d *devDashboard) url(addr string) string { return "http://" + addr + d.dash.Path() }

// page serves the dashboard under its path and next everywhere else.
func (d *devDashboard) page(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(d.dash.Path(), d.dash)
	if next == nil {
		next = http.NotFoundHandler()
	}
	mux.Handle("/", next)
	return mux
}

// integration adds each invocation to the dashboard's log.
func (d *devDashboard) integration(in local.Integration) local.Integration {
	return dashboardIntegration{Integration: in, invoke: d.dash.Wrap(in.Invoke)}
}

type dashboardIntegration struct {
	local.Integration
	invoke dashboard.InvokeFunc
}

func (i dashboardIntegration) Invoke(ctx context.Context, ev *events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return i.invoke(ctx, ev)
}

// refused adds a refused frame to the dashboard's log.
func (d *devDashboard) refused(r *emulator.Rejection) {
	d.dash.Refused(r.Time, r.Route, r.ConnectionID, r.RequestID, r.Status(), r.Reason())
}

// push is the dashboard's push form: PostToConnection through the
// current API's @connections, signed with the credentials the emulator
// accepts, as mullet post signs.
func (d *devDashboard) push(ctx context.Context, id string, data []byte) error {
	p := d.callbackURL.Load()
	if p == nil {
		return errors.New("the API is not serving yet")
	}
	base := *p
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(emulator.DefaultAccessKeyID, emulator.DefaultSecretAccessKey, ""),
		HTTPClient:  &http.Client{Timeout: 10 * time.Second},
	}
	cb := framework.NewCallback(cfg, &framework.CallbackOptions{Endpoint: base, MaxAttempts: 1})
	err := cb.Post(ctx, base, id, data)
	if errors.Is(err, framework.ErrGone) {
		return statusError{410, "GoneException: connection " + id + " is gone"}
	}
	return err
}

// statusError is a push failure with the status the page gets.
type statusError struct {
	status int
	msg    string
}

func (e statusError) Error() string       { return e.msg }
func (e statusError) HTTPStatusCode() int { return e.status }
