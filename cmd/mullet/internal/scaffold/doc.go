// Package scaffold writes a new mullet project for `mullet new`: a go.mod
// pinned to the versions mullet is tested with, an app package with one
// typed two-way route and per-connection state, a main package that runs in
// AWS Lambda and locally, an end-to-end test, a CDK app, and a README.
//
// The files come from text/template templates embedded from templates/;
// generated Go files are gofmt-formatted.
package scaffold
