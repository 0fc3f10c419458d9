// Package browser holds mullet.js, the browser client of a mullet app: one
// ES module with no dependencies that a page loads with a plain
// <script type="module">. It speaks docs/protocol.md as package client
// does for Go: it reconnects with backoff and jitter, resumes its session
// with a rotating secret, replays and de-duplicates the messages of durable
// groups, keeps idle connections alive with sync, reconnects before API
// Gateway's 2-hour cut, matches requests and replies by "$rid" and queues
// (boundedly) what is sent while disconnected. docs/browser.md is its
// guide.
//
// mullet.js is plain JavaScript with JSDoc types, checked by the pinned
// TypeScript compiler (tsc --checkJs --strict): the file a browser runs is
// the file that is checked, so nothing generated has to be kept in step.
// Its unit tests (mullet_test.mjs) run under node's test runner with a fake
// WebSocket and a fake clock; go test ./client/browser runs both.
//
// Go code serves the module with Handler, or copies it with Source.
package browser
