package devstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mulletgo/mullet/store"
)

// The protocol. Each Store method is POST {base}/v1/{Method} with a JSON
// request body; the answer is 200 with the JSON result, or an error status
// with an errorBody whose Code names the store sentinel.
const version = "/v1/"

// Request and result bodies. Store's own types travel as encoding/json
// writes them ([]byte as base64, times in RFC 3339 with nanoseconds).
type (
	idRequest struct {
		ID string `json:"id"`
	}
	putConnectionRequest struct {
		Connection store.Connection `json:"connection"`
	}
	saveStateRequest struct {
		ID     string `json:"id"`
		Data   []byte `json:"data"`
		Expect int64  `json:"expect"`
	}
	versionResult struct {
		Version int64 `json:"version"`
	}
	groupRequest struct {
		Group string `json:"group"`
		ID    string `json:"id,omitempty"`
	}
	membersResult struct {
		IDs []string `json:"ids"`
	}
	arriveRequest struct {
		Key     string        `json:"key"`
		Size    int           `json:"size"`
		Arrival store.Arrival `json:"arrival"`
		Expires time.Time     `json:"expires"`
	}
	evictRequest struct {
		Key          string `json:"key"`
		ConnectionID string `json:"connectionId"`
	}
	expireRequest struct {
		Key     string    `json:"key"`
		Expires time.Time `json:"expires"`
	}
	restartRequest struct {
		Key     string        `json:"key"`
		Size    int           `json:"size"`
		Arrival store.Arrival `json:"arrival"`
		Expires time.Time     `json:"expires"`
		Prev    time.Time     `json:"prev"`
	}
	empty     struct{}
	errorBody struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		// Result is what the method returned with its error, where the
		// contract gives one (a refused Arrive returns the barrier).
		Result json.RawMessage `json:"result,omitempty"`
	}
)

// codes maps the store's sentinel errors to their names on the wire.
var codes = []struct {
	code   string
	err    error
	status int
}{
	{"NotFound", store.ErrNotFound, http.StatusNotFound},
	{"Conflict", store.ErrConflict, http.StatusConflict},
	{"BarrierFull", store.ErrBarrierFull, http.StatusConflict},
	{"TooLarge", store.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{"Throttled", store.ErrThrottled, http.StatusTooManyRequests},
	{"Denied", store.ErrDenied, http.StatusForbidden},
}

// maxRequest bounds a request body: an item is at most store.MaxItemSize,
// base64 makes it a third larger.
const maxRequest = 2 * store.MaxItemSize

// Handler serves s on the protocol Client speaks, at /v1/{Method}.
func Handler(s store.Store) http.Handler {
	ops := map[string]func(ctx context.Context, body []byte) (any, error){
		"PutConnection": op(func(ctx context.Context, r putConnectionRequest) (empty, error) {
			return empty{}, s.PutConnection(ctx, r.Connection)
		}),
		"GetConnection": op(func(ctx context.Context, r idRequest) (store.Connection, error) {
			return s.GetConnection(ctx, r.ID)
		}),
		"DeleteConnection": op(func(ctx context.Context, r idRequest) (empty, error) {
			return empty{}, s.DeleteConnection(ctx, r.ID)
		}),
		"LoadState": op(func(ctx context.Context, r idRequest) (store.State, error) {
			return s.LoadState(ctx, r.ID)
		}),
		"SaveState": op(func(ctx context.Context, r saveStateRequest) (versionResult, error) {
			v, err := s.SaveState(ctx, r.ID, r.Data, r.Expect)
			return versionResult{v}, err
		}),
		"JoinGroup": op(func(ctx context.Context, r groupRequest) (empty, error) {
			return empty{}, s.JoinGroup(ctx, r.Group, r.ID)
		}),
		"LeaveGroup": op(func(ctx context.Context, r groupRequest) (empty, error) {
			return empty{}, s.LeaveGroup(ctx, r.Group, r.ID)
		}),
		"GroupMembers": op(func(ctx context.Context, r groupRequest) (membersResult, error) {
			ids, err := s.GroupMembers(ctx, r.Group)
			return membersResult{ids}, err
		}),
		"Arrive": op(func(ctx context.Context, r arriveRequest) (store.Barrier, error) {
			return s.Arrive(ctx, r.Key, r.Size, r.Arrival, r.Expires)
		}),
		"Evict": op(func(ctx context.Context, r evictRequest) (store.Barrier, error) {
			return s.Evict(ctx, r.Key, r.ConnectionID)
		}),
		"ExpireBarrier": op(func(ctx context.Context, r expireRequest) (store.Barrier, error) {
			return s.ExpireBarrier(ctx, r.Key, r.Expires)
		}),
		"RestartBarrier": op(func(ctx context.Context, r restartRequest) (store.Barrier, error) {
			return s.RestartBarrier(ctx, r.Key, r.Size, r.Arrival, r.Expires, r.Prev)
		}),
	}
	for name, fn := range continuityOps(s) {
		ops[name] = fn
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, version)
		fn := ops[name]
		if !ok || fn == nil || r.Method != http.MethodPost {
			writeError(w, http.StatusNotFound, errorBody{Message: fmt.Sprintf("devstore: no operation %s %s (this server speaks %s{Method} with POST)", r.Method, r.URL.Path, version)})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
		if err != nil {
			writeError(w, http.StatusBadRequest, errorBody{Message: "devstore: read request: " + err.Error()})
			return
		}
		result, err := fn(r.Context(), body)
		if err != nil {
			status, e := http.StatusInternalServerError, errorBody{Message: err.Error()}
			for _, c := range codes {
				if errors.Is(err, c.err) {
					status, e.Code = c.status, c.code
					break
				}
			}
			if errors.Is(err, store.ErrBarrierFull) {
				e.Result, _ = json.Marshal(result)
			}
			writeError(w, status, e)
			return
		}
		data, err := json.Marshal(result)
		if err != nil {
			writeError(w, http.StatusInternalServerError, errorBody{Message: "devstore: encode result: " + err.Error()})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	})
}

// op decodes a request of type Req and runs fn.
func op[Req, Res any](fn func(context.Context, Req) (Res, error)) func(context.Context, []byte) (any, error) {
	return func(ctx context.Context, body []byte) (any, error) {
		var req Req
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("devstore: decode request: %w", err)
		}
		return fn(ctx, req)
	}
}

func writeError(w http.ResponseWriter, status int, e errorBody) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(e)
}

// Server serves a store on a loopback port. Create it with Listen.
type Server struct {
	// URL is the base URL Clients use: http://127.0.0.1:PORT/TOKEN, where
	// TOKEN is random, so that only processes told the URL reach the
	// store.
	URL string

	srv  *http.Server
	done chan struct{}
}

// Listen serves s with Handler on 127.0.0.1 on a free port until Close.
func Listen(s store.Store) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devstore: listen: %w", err)
	}
	var token [16]byte
	rand.Read(token[:])
	prefix := "/" + hex.EncodeToString(token[:])
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, Handler(s)))
	srv := &Server{
		URL:  "http://" + ln.Addr().String() + prefix,
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(srv.done)
		srv.srv.Serve(ln)
	}()
	return srv, nil
}

// Close stops serving at once: requests in flight fail.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Options configures a Client. nil means defaults.
type Options struct {
	// HTTPClient makes the requests. nil: a client with its own keep-alive
	// pool and no proxy.
	HTTPClient *http.Client
}

// Client is a store.Store served by a Handler in another process. It is
// safe for concurrent use.
type Client struct {
	base string
	http *http.Client
}

var _ store.Store = (*Client)(nil)

// New returns a Client of the store served at baseURL (Server.URL).
func New(baseURL string, opts *Options) *Client {
	c := &Client{base: strings.TrimSuffix(baseURL, "/")}
	if opts != nil && opts.HTTPClient != nil {
		c.http = opts.HTTPClient
	} else {
		c.http = &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        64,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	return c
}

// call POSTs req to the method name and decodes the result into res (nil:
// none expected).
func (c *Client) call(ctx context.Context, name string, req, res any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("devstore %s: encode request: %w", name, err)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+version+name, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("devstore %s: %w", name, err)
	}
	r.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(r)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("devstore %s: %w", name, err)
		}
		return fmt.Errorf("devstore %s: cannot reach the store at %s (is mullet dev still running?): %w", name, c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("devstore %s: read answer: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			return fmt.Errorf("devstore %s: %s: %q", name, resp.Status, data)
		}
		for _, code := range codes {
			if e.Code == code.code {
				if len(e.Result) > 0 && res != nil {
					if err := json.Unmarshal(e.Result, res); err != nil {
						return fmt.Errorf("devstore %s: decode answer: %w", name, err)
					}
				}
				return &wireError{msg: e.Message, err: code.err}
			}
		}
		return fmt.Errorf("devstore %s: %s", name, e.Message)
	}
	if res == nil {
		return nil
	}
	if err := json.Unmarshal(data, res); err != nil {
		return fmt.Errorf("devstore %s: decode answer: %w", name, err)
	}
	return nil
}

// wireError is a store error that crossed the wire: the server's message,
// matching the sentinel it names.
type wireError struct {
	msg string
	err error
}

func (e *wireError) Error() string { return e.msg }
func (e *wireError) Unwrap() error { return e.err }

// PutConnection implements store.Store.
func (c *Client) PutConnection(ctx context.Context, conn store.Connection) error {
	return c.call(ctx, "PutConnection", putConnectionRequest{conn}, nil)
}

// GetConnection implements store.Store.
func (c *Client) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	var conn store.Connection
	err := c.call(ctx, "GetConnection", idRequest{id}, &conn)
	return conn, err
}

// DeleteConnection implements store.Store.
func (c *Client) DeleteConnection(ctx context.Context, id string) error {
	return c.call(ctx, "DeleteConnection", idRequest{id}, nil)
}

// LoadState implements store.Store.
func (c *Client) LoadState(ctx context.Context, id string) (store.State, error) {
	var st store.State
	err := c.call(ctx, "LoadState", idRequest{id}, &st)
	return st, err
}

// SaveState implements store.Store.
func (c *Client) SaveState(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	var v versionResult
	err := c.call(ctx, "SaveState", saveStateRequest{ID: id, Data: data, Expect: expect}, &v)
	return v.Version, err
}

// JoinGroup implements store.Store.
func (c *Client) JoinGroup(ctx context.Context, group, id string) error {
	return c.call(ctx, "JoinGroup", groupRequest{Group: group, ID: id}, nil)
}

// LeaveGroup implements store.Store.
func (c *Client) LeaveGroup(ctx context.Context, group, id string) error {
	return c.call(ctx, "LeaveGroup", groupRequest{Group: group, ID: id}, nil)
}

// GroupMembers implements store.Store.
func (c *Client) GroupMembers(ctx context.Context, group string) ([]string, error) {
	var m membersResult
	err := c.call(ctx, "GroupMembers", groupRequest{Group: group}, &m)
	return m.IDs, err
}

// Arrive implements store.Store.
func (c *Client) Arrive(ctx context.Context, key string, size int, a store.Arrival, expires time.Time) (store.Barrier, error) {
	var b store.Barrier
	err := c.call(ctx, "Arrive", arriveRequest{Key: key, Size: size, Arrival: a, Expires: expires}, &b)
	return b, err
}

// Evict implements store.Store.
func (c *Client) Evict(ctx context.Context, key, connectionID string) (store.Barrier, error) {
	var b store.Barrier
	err := c.call(ctx, "Evict", evictRequest{Key: key, ConnectionID: connectionID}, &b)
	return b, err
}

// RestartBarrier implements store.Store.
func (c *Client) RestartBarrier(ctx context.Context, key string, size int, a store.Arrival, expires, prev time.Time) (store.Barrier, error) {
	var b store.Barrier
	err := c.call(ctx, "RestartBarrier", restartRequest{Key: key, Size: size, Arrival: a, Expires: expires, Prev: prev}, &b)
	return b, err
}

// ExpireBarrier implements store.Store.
func (c *Client) ExpireBarrier(ctx context.Context, key string, expires time.Time) (store.Barrier, error) {
	var b store.Barrier
	err := c.call(ctx, "ExpireBarrier", expireRequest{Key: key, Expires: expires}, &b)
	return b, err
}
