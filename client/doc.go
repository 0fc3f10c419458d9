// Package client is a Go client for mullet apps (and any API Gateway
// WebSocket API) that outlives connections. It speaks the wire protocol of
// docs/protocol.md.
//
// API Gateway cuts every connection: after 10 idle minutes, after 2 hours
// at most, and on every network change. A Conn from Dial hides that:
//
//   - it reconnects after a cut, waiting a jittered, exponentially growing
//     time (Options.MinBackoff, capped at Options.MaxBackoff);
//   - it pings (Options.PingInterval) to find dead connections, and keeps
//     an idle connection alive below the 10-minute idle timeout with a
//     sync frame (Options.IdleSync);
//   - it reconnects on its own before the 2-hour cut (Options.MaxAge);
//   - it presents a session on every upgrade (rotating its resume secret
//     as the protocol says), so the app keeps its per-session state and
//     group memberships, and after each reconnect it syncs: the messages of
//     durable groups it missed are replayed, and Receive delivers each
//     exactly once and in stream order, de-duplicated and ordered by
//     position (epoch and offset), filling gaps with sync;
//   - when the history no longer covers what it missed, Receive returns a
//     KindDiscontinuity message, never a silent gap; when the server does
//     not take the session back, a KindSessionLost message;
//   - Send queues frames while disconnected, up to Options.SendQueue
//     (then ErrQueueFull);
//   - Request tags a frame with "$rid" and returns the reply with the same
//     ID, or ErrRequestTimeout;
//   - Options.Upgrade prepares every upgrade request: a SigV4 signature
//     (in headers or a presigned URL), an x-api-key header, anything the
//     $connect route asks for. It runs again on each reconnect, so a
//     presigned URL is always fresh.
//
// Like coder/websocket, every blocking call takes a ctx, a nil *Options
// means the defaults, and errors are sentinels (errors.Is) or types
// (errors.As: *HandshakeError, *ReplyError).
//
// Against an app without sessions the client is a plain reconnecting
// websocket client: the server answers its first sync with an error,
// which the client swallows, and it syncs no more.
//
// It is a dev-time and client
// package: nothing that ships in a Lambda binary imports it.
package client
