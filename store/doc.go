// Package store defines where mullet keeps per-connection records, state,
// group memberships and barriers, and the contract every backend meets.
// Continuity adds sessions, durable streams and presence (see
// docs/protocol.md); both backends implement it.
//
// Backends live in subpackages: memstore (in memory, the local default) and
// dynamostore (DynamoDB, used in AWS). Package storetest holds the
// conformance suite that every backend must pass.
package store
