// Package memstore is an in-memory store.Store: the default backend of the
// local emulator and of tests. It implements the same conditional semantics
// as the DynamoDB backend (versioned state, one-write barrier arrivals, item
// size limit, expiry treated as absence) and passes the same conformance
// suite.
package memstore
