package runtimeenv_test

import (
	"testing"

	"github.com/mulletgo/mullet/framework/runtimeenv"
)

// TestTracesEndpoint: tracing is off unless configured, and the standard
// variables choose the endpoint.
func TestTracesEndpoint(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
		on   bool
	}{
		"nothing set":         {env: nil},
		"base endpoint":       {env: map[string]string{runtimeenv.OTelEndpoint: "http://127.0.0.1:4318/"}, want: "http://127.0.0.1:4318/v1/traces", on: true},
		"traces endpoint":     {env: map[string]string{runtimeenv.OTelEndpoint: "http://a", runtimeenv.OTelTracesEndpoint: "http://b/custom"}, want: "http://b/custom", on: true},
		"exporter otlp":       {env: map[string]string{runtimeenv.OTelTracesExporter: "otlp"}, want: runtimeenv.DefaultTracesEndpoint, on: true},
		"exporter none":       {env: map[string]string{runtimeenv.OTelTracesExporter: "none", runtimeenv.OTelEndpoint: "http://a"}},
		"sdk disabled":        {env: map[string]string{runtimeenv.OTelSDKDisabled: "true", runtimeenv.OTelEndpoint: "http://a"}},
		"sdk disabled: false": {env: map[string]string{runtimeenv.OTelSDKDisabled: "false", runtimeenv.OTelEndpoint: "http://a"}, want: "http://a/v1/traces", on: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, on := runtimeenv.TracesEndpoint(func(k string) string { return tc.env[k] })
			if got != tc.want || on != tc.on {
				t.Errorf("TracesEndpoint = %q, %v; want %q, %v", got, on, tc.want, tc.on)
			}
			if tp := runtimeenv.NewTracerProvider(func(k string) string { return tc.env[k] }, "chat"); (tp != nil) != tc.on {
				t.Errorf("NewTracerProvider = %v with tracing on %v", tp, tc.on)
			}
		})
	}
}
