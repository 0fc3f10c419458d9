// Package storetest is the conformance suite every store.Store backend must
// pass. A backend's test calls Run with a factory that returns a fresh,
// empty store driven by the given clock.
package storetest
