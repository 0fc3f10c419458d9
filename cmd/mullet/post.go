package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"

	"github.com/mulletgo/mullet/framework"
	"github.com/mulletgo/mullet/local/emulator"
)

func runPost(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("post", `mullet post -endpoint URL ID DATA
       mullet post -endpoint URL -get ID
       mullet post -endpoint URL -delete ID

An ID that begins with '-' (-0euEUDfaBDqYXc=) is taken as an ID, not a flag;
put -- before a DATA that begins with '-'.

Calls API Gateway's @connections API with the AWS SDK, signed with SigV4:
PostToConnection sends DATA as one text frame to the connection ID; -get
prints what GetConnection says of it; -delete disconnects it.

DATA is the frame itself, @FILE for a file's contents, or - for stdin.
URL is the @connections endpoint, as mullet dev prints it
(http://127.0.0.1:8080/local) or as a deployed stack outputs it
(https://ID.execute-api.REGION.amazonaws.com/STAGE).
Credentials come from the AWS configuration chain; for a loopback URL (the
local emulator, which accepts any signature) placeholder credentials are
used.`, stderr)
	endpoint := fs.String("endpoint", "", "the @connections endpoint: http://127.0.0.1:8080/local, https://ID.execute-api.REGION.amazonaws.com/STAGE")
	get := fs.Bool("get", false, "print the connection's details (GetConnection) instead of posting")
	del := fs.Bool("delete", false, "disconnect the connection (DeleteConnection) instead of posting")
	region := fs.String("region", "", "AWS region; default: from the endpoint's host, else the AWS configuration")
	profile := fs.String("profile", "", "AWS shared configuration profile")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if code, done := parseWith(fs, args, stderr, looksLikeConnectionID); done {
		return code
	}
	if *get && *del {
		fmt.Fprintf(stderr, "mullet post: -get and -delete exclude each other\n")
		return 2
	}
	want, usage := 2, "ID DATA"
	if *get || *del {
		want, usage = 1, "ID"
	}
	if fs.NArg() != want {
		fmt.Fprintf(stderr, "mullet post: want %s, got %d argument(s); e.g. mullet post -endpoint http://127.0.0.1:8080/local R1kmxc2VNjMCFIA= '{\"hello\":1}'\n", usage, fs.NArg())
		return 2
	}
	if *endpoint == "" {
		fmt.Fprintf(stderr, "mullet post: missing -endpoint URL, the @connections endpoint (mullet dev prints it: http://127.0.0.1:8080/local)\n")
		return 2
	}
	base, err := callbackEndpoint(*endpoint)
	if err != nil {
		fmt.Fprintf(stderr, "mullet post: %v\n", err)
		return 2
	}
	id := fs.Arg(0)
	var data []byte
	if !*get && !*del {
		if data, err = readData(fs.Arg(1), os.Stdin); err != nil {
			fmt.Fprintf(stderr, "mullet post: %v\n", err)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cfg, err := callbackConfig(ctx, base, *region, *profile)
	if err != nil {
		fmt.Fprintf(stderr, "mullet post: %v\n", err)
		return 1
	}
	cb := framework.NewCallback(cfg, &framework.CallbackOptions{Endpoint: base})
	switch {
	case *get:
		info, err := cb.Info(ctx, base, id)
		if err != nil {
			fmt.Fprintf(stderr, "mullet post: GetConnection %s: %s\n", id, describeCallbackError(err, base, id))
			return 1
		}
		out, _ := json.MarshalIndent(map[string]any{
			"connectionId": id,
			"connectedAt":  info.ConnectedAt.UTC().Format(time.RFC3339),
			"lastActiveAt": info.LastActiveAt.UTC().Format(time.RFC3339),
			"sourceIp":     info.SourceIP,
			"userAgent":    info.UserAgent,
		}, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out)
	case *del:
		if err := cb.Delete(ctx, base, id); err != nil {
			fmt.Fprintf(stderr, "mullet post: DeleteConnection %s: %s\n", id, describeCallbackError(err, base, id))
			return 1
		}
		fmt.Fprintf(stdout, "disconnected %s\n", id)
	default:
		if err := cb.Post(ctx, base, id, data); err != nil {
			fmt.Fprintf(stderr, "mullet post: PostToConnection %s: %s\n", id, describeCallbackError(err, base, id))
			return 1
		}
		fmt.Fprintf(stdout, "sent %d bytes to %s\n", len(data), id)
	}
	return 0
}

// callbackEndpoint normalizes an @connections endpoint: the stage URL,
// with or without a trailing "/@connections[/{connectionId}]" as the mullet
// dev banner shows it; ws and wss become http and https.
func callbackEndpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("-endpoint %q: %v", raw, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("-endpoint %q: want an http:// or https:// URL, e.g. http://127.0.0.1:8080/local", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("-endpoint %q has no host", raw)
	}
	if i := strings.Index(u.Path, "/@connections"); i >= 0 {
		u.Path = u.Path[:i]
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

// readData returns DATA: literal, @FILE, or - for stdin.
func readData(arg string, stdin io.Reader) ([]byte, error) {
	switch {
	case arg == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read DATA from stdin: %w", err)
		}
		return b, nil
	case strings.HasPrefix(arg, "@"):
		b, err := os.ReadFile(arg[1:])
		if err != nil {
			return nil, fmt.Errorf("DATA %s: %w", arg, errors.Unwrap(err))
		}
		return b, nil
	}
	return []byte(arg), nil
}

// looksLikeConnectionID reports whether arg has the shape of an API
// Gateway connection ID: 15 characters of URL-safe base64 and '=', as in
// R1kmxc2VNjMCFIA= or -0euEUDfaBDqYXc=. One ID in 64 begins with '-', and
// must not be taken for a flag.
func looksLikeConnectionID(arg string) bool {
	if len(arg) != 16 || arg[15] != '=' {
		return false
	}
	for _, c := range arg[:15] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

var executeAPIHost = regexp.MustCompile(`^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// callbackConfig returns the AWS configuration for calling endpoint:
// the emulator's credentials (emulator.DefaultCredentials) for a loopback
// endpoint, else the default chain,
// with the region taken from an execute-api host when not given.
func callbackConfig(ctx context.Context, endpoint, region, profile string) (aws.Config, error) {
	u, _ := url.Parse(endpoint)
	host := u.Hostname()
	if isLoopbackHost(host) {
		if region == "" {
			region = "us-east-1"
		}
		return aws.Config{
			Region: region,
			// What the emulator's @connections accepts (mullet dev).
			Credentials: credentials.NewStaticCredentialsProvider(emulator.DefaultAccessKeyID, emulator.DefaultSecretAccessKey, ""),
			HTTPClient:  &http.Client{Timeout: 30 * time.Second},
		}, nil
	}
	if region == "" {
		if m := executeAPIHost.FindStringSubmatch(host); m != nil {
			region = m[1]
		}
	}
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region for %s: pass -region, or set AWS_REGION", endpoint)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return aws.Config{}, fmt.Errorf("no AWS credentials to sign the call to %s: %s", endpoint, credentialsHint)
	}
	return cfg, nil
}

const credentialsHint = "configure them with `aws configure` or `aws sso login`, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass -profile NAME"

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// describeCallbackError says what an @connections error means and what to
// do about it.
func describeCallbackError(err error, endpoint, id string) string {
	var resp *awshttp.ResponseError
	var netErr *net.OpError
	switch {
	case errors.Is(err, framework.ErrGone):
		return fmt.Sprintf("410 GoneException: no connection %s at %s; the client has disconnected, or the ID belongs to another stage or API", id, endpoint)
	case errors.Is(err, framework.ErrPayloadTooLarge):
		return "413 PayloadTooLargeException: API Gateway takes frames of at most 128 KB"
	case errors.Is(err, framework.ErrThrottled):
		return "429 LimitExceededException: throttled by API Gateway; try again later"
	case errors.Is(err, framework.ErrForbidden):
		return fmt.Sprintf("403 ForbiddenException: the credentials may not call execute-api:ManageConnections on %s, or the endpoint's stage is wrong", endpoint)
	case errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusBadRequest:
		return fmt.Sprintf("400 BadRequestException: %q is not a valid connection ID (IDs look like R1kmxc2VNjMCFIA=)", id)
	case errors.As(err, &netErr):
		return fmt.Sprintf("cannot reach %s: %v; is the server running?", endpoint, netErr.Err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer from %s in time", endpoint)
	}
	return err.Error()
}
