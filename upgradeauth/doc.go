// Package upgradeauth authenticates a client's WebSocket upgrade to an API
// Gateway WebSocket API that requires IAM or API keys on $connect: a
// Signature Version 4 signature for the execute-api service, in headers or
// as a presigned URL (browsers cannot set headers on a WebSocket), and the
// x-api-key header.
//
// Each is a func(ctx, *http.Request) error that prepares the upgrade
// request before it is dialled, the hook shape clients take (mullet
// connect, the rendezvous example's peer.Options.Upgrade):
//
//	s := &upgradeauth.Signer{Credentials: cfg.Credentials, Region: "us-east-1", Presign: true}
//	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "wss://abc123.execute-api.us-east-1.amazonaws.com/prod", nil)
//	if err := s.Sign(ctx, req); err != nil { ... }
//	conn, _, err := websocket.Dial(ctx, req.URL.String(), &websocket.DialOptions{HTTPHeader: req.Header})
//
// The local emulator verifies what Signer produces with the same SDK
// signer, against the credentials local serving uses
// (emulator.DefaultCredentials).
package upgradeauth
