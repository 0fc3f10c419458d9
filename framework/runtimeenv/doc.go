// Package runtimeenv is the contract between a mullet function and the
// environment it is started in: the names of the MULLET_* environment
// variables, and the framework.Runtime (store, @connections client,
// scheduler) that they describe.
//
// It is written once and used everywhere that contract appears: inside AWS
// Lambda (mullet.Main reads it), by local serving (package local builds its
// in-process Runtime with the same function), by local Lambda instances
// (mullet dev -runtime lambda and mullettest pass Config.Environ to them),
// and by infra, which sets the same names on the deployed function.
package runtimeenv
