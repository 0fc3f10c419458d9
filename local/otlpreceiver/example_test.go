package otlpreceiver_test

import (
	"fmt"

	"github.com/mulletgo/mullet/local/otlpreceiver"
)

// Decode reads an export request in OTLP's JSON mapping, whose trace and
// span IDs are hex.
func ExampleDecode() {
	body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"chat"}}]},
	  "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
	  "name":"mullet.push","kind":3,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712660000500000",
	  "attributes":[{"key":"mullet.gone","value":{"boolValue":true}}]}]}]}]}`
	spans, err := otlpreceiver.Decode("application/json", []byte(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	s := spans[0]
	fmt.Println(s.Service, s.Name, s.TraceID, s.End.Sub(s.Start), s.Attributes["mullet.gone"])
	// Output: chat mullet.push 5b8efff798038103d269b633813fc60c 500µs true
}
