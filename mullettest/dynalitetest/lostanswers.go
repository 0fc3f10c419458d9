package dynalitetest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// LostAnswers is the transport of a DynamoDB client (through
// dynamodb.Options.HTTPClient) that injects one fault: a write that was
// applied but whose answer was lost. It passes every request on to the
// server; once armed with Lose(n), it answers the next n requests that
// Match accepts with a 500 InternalServerError after the server has
// applied them. The SDK retries a 500, so a test sees how a caller copes
// with a write it cannot tell was applied.
type LostAnswers struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Match picks the requests whose answers may be lost, from the
	// operation (the X-Amz-Target header, e.g. DynamoDB_20120810.PutItem)
	// and the request body; nil matches every request.
	Match func(target string, body []byte) bool

	left    atomic.Int32
	matched atomic.Int32
}

// Lose arms l to lose the answers of the next n matching requests.
func (l *LostAnswers) Lose(n int) { l.left.Store(int32(n)) }

// Left returns how many of the answers Lose asked for are still to lose.
func (l *LostAnswers) Left() int { return int(max(l.left.Load(), 0)) }

// Matched returns how many requests Match has accepted so far.
func (l *LostAnswers) Matched() int { return int(l.matched.Load()) }

// RoundTrip implements http.RoundTripper.
func (l *LostAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	base := l.Base
	if base == nil {
		base = http.DefaultTransport
	}
	match := true
	if l.Match != nil {
		var body []byte
		if r.Body != nil {
			var err error
			if body, err = io.ReadAll(r.Body); err != nil {
				return nil, err
			}
			r.Body.Close()
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		match = l.Match(r.Header.Get("X-Amz-Target"), body)
	}
	resp, err := base.RoundTrip(r)
	if err != nil || !match {
		return resp, err
	}
	l.matched.Add(1)
	if l.left.Add(-1) < 0 {
		l.left.Store(0)
		return resp, nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return &http.Response{
		StatusCode: http.StatusInternalServerError,
		Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:       io.NopCloser(strings.NewReader(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected by dynalitetest.LostAnswers: the request was applied, its answer lost"}`)),
		Request:    r,
	}, nil
}
