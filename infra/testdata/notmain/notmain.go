// Package notmain is not a main package: infra's tests check that
// NewWebSocketApp refuses it.
package notmain

// Answer is exported so the package is not empty.
const Answer = 42
