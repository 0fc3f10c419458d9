package otlpreceiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// TracesPath is the path OTLP/HTTP exporters post spans to, under the
// endpoint of OTEL_EXPORTER_OTLP_ENDPOINT.
const TracesPath = "/v1/traces"

// DefaultMaxBodyBytes is the largest export request accepted by default,
// after decompression.
const DefaultMaxBodyBytes = 16 << 20

// Options configures a receiver. nil means defaults.
type Options struct {
	// MaxBodyBytes bounds an export request, after decompression. Default
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// ErrBadRequest is matched (errors.Is) by the error Decode returns for a
// body that is not an export request in the encoding its type names.
var ErrBadRequest = errors.New("otlpreceiver: not an OTLP trace export request")

// Handler returns the receiver as an http.Handler: it serves POST
// TracesPath, decodes the spans and passes them to consume (called on the
// request's goroutine, with the request's context), and answers with an
// empty export response in the request's encoding. A body it cannot decode
// gets 400 and changes nothing; other paths get 404, other methods 405.
func Handler(consume func(context.Context, []Span), opts *Options) http.Handler {
	max := int64(DefaultMaxBodyBytes)
	if opts != nil && opts.MaxBodyBytes > 0 {
		max = opts.MaxBodyBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != TracesPath {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST OTLP export requests here", http.StatusMethodNotAllowed)
			return
		}
		var body io.Reader = r.Body
		switch enc := r.Header.Get("Content-Encoding"); enc {
		case "", "identity":
		case "gzip":
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, "bad gzip body: "+err.Error(), http.StatusBadRequest)
				return
			}
			defer zr.Close()
			body = zr
		default:
			http.Error(w, fmt.Sprintf("Content-Encoding %q: use gzip or none", enc), http.StatusUnsupportedMediaType)
			return
		}
		data, err := io.ReadAll(io.LimitReader(body, max+1))
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if int64(len(data)) > max {
			http.Error(w, fmt.Sprintf("export request over %d bytes", max), http.StatusRequestEntityTooLarge)
			return
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		spans, err := Decode(mt, data)
		if err != nil {
			status := http.StatusBadRequest
			if !errors.Is(err, ErrBadRequest) {
				status = http.StatusUnsupportedMediaType
			}
			http.Error(w, err.Error(), status)
			return
		}
		if len(spans) > 0 {
			consume(r.Context(), spans)
		}
		// An empty ExportTraceServiceResponse: full success.
		if mt == "application/json" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{}")
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
}

// ErrUnsupportedType is matched by the error Decode returns for a media
// type other than OTLP's two.
var ErrUnsupportedType = errors.New("otlpreceiver: unsupported media type; use application/x-protobuf or application/json")

// Decode decodes the spans of an export request (an
// ExportTraceServiceRequest) of media type mediaType: application/x-protobuf
// or application/json (OTLP's JSON mapping: hex trace and span IDs, enums as
// integers, 64-bit integers as strings or numbers).
func Decode(mediaType string, data []byte) ([]Span, error) {
	// TracesData has the same fields, numbers and JSON names as
	// ExportTraceServiceRequest, without the collector package's gRPC
	// service code.
	var td tracepb.TracesData
	switch mediaType {
	case "application/x-protobuf", "application/protobuf":
		if err := proto.Unmarshal(data, &td); err != nil {
			return nil, fmt.Errorf("%w: protobuf: %v", ErrBadRequest, err)
		}
	case "application/json":
		fixed, err := hexIDsToBase64(data)
		if err != nil {
			return nil, fmt.Errorf("%w: JSON: %v", ErrBadRequest, err)
		}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(fixed, &td); err != nil {
			return nil, fmt.Errorf("%w: JSON: %v", ErrBadRequest, err)
		}
	default:
		return nil, fmt.Errorf("%w, not %q", ErrUnsupportedType, mediaType)
	}
	return fromProto(td.GetResourceSpans()), nil
}

// idFields are the fields OTLP's JSON mapping writes as hex, which
// protobuf's JSON mapping reads as base64.
var idFields = map[string]bool{
	"traceId": true, "spanId": true, "parentSpanId": true,
	"trace_id": true, "span_id": true, "parent_span_id": true,
}

// hexIDsToBase64 rewrites the hex IDs of an OTLP/JSON document as base64,
// leaving everything else (numbers included) as it was.
func hexIDsToBase64(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	var fix func(v any) error
	fix = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && idFields[k] {
					b, err := hex.DecodeString(s)
					if err != nil {
						return fmt.Errorf("%s %q is not hex", k, s)
					}
					x[k] = base64.StdEncoding.EncodeToString(b)
					continue
				}
				if err := fix(e); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := fix(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := fix(doc); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// Server is a receiver listening on its own address.
type Server struct {
	// Endpoint is the receiver's base URL, http://HOST:PORT, as
	// OTEL_EXPORTER_OTLP_ENDPOINT takes it (exporters add TracesPath).
	Endpoint string
	srv      *http.Server
	done     chan struct{}
}

// Listen starts a receiver on addr (such as "127.0.0.1:0" for a free
// loopback port) that passes spans to consume. Close stops it.
func Listen(addr string, consume func(context.Context, []Span), opts *Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("otlpreceiver: listen on %s: %w", addr, err)
	}
	s := &Server{
		Endpoint: "http://" + ln.Addr().String(),
		srv:      &http.Server{Handler: Handler(consume, opts), ReadHeaderTimeout: 10 * time.Second},
		done:     make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the receiver, waiting up to 2 seconds for requests in
// flight.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	return err
}
