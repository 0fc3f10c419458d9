// Package dashboard is the live local dashboard of mullet dev: an
// http.Handler serving one page that shows what a locally served app is
// doing, updated without reloading (server-sent events):
//
//   - connections with their state, source IP, connected-at time and
//     identity, groups and their presence members, barriers waiting and
//     released, sessions (connected or away) and durable streams, from a
//     store.Inspector polled a few times a second;
//   - the invocation log, with the reasons of refused frames and the
//     errors and panics of failed invocations (Dashboard.Wrap and
//     Dashboard.Refused feed it);
//   - traces: the spans an OTLP receiver (package local/otlpreceiver)
//     hands to Dashboard.AddSpans, grouped by trace and drawn on a
//     timeline, so that one frame's invocation, store calls and pushes
//     line up;
//   - a form that sends frames as a new websocket client of the API (from
//     the page), and one that pushes to a connection through @connections
//     (Options.Push, signed on the server side).
//
// It answers only loopback peers that name a loopback host, and refuses
// cross-origin writes. It never shows a secret: values under keys that
// name one (secret, token, password, authorization, API key, signature,
// credential, cookie) are replaced, SigV4 query parameters and
// Authorization header values are scrubbed from every string it shows,
// and sessions are shown without their resume secret's hash
// (store.SessionView leaves it out).
//
// It is a dev-time package: it never ships in a Lambda binary.
package dashboard
