// Package dynalite runs dynalite, a DynamoDB-API server on node, on
// 127.0.0.1: what `mullet dev -store dynamodb` starts when no endpoint is
// given, and what the tests of package mullettest/dynalitetest run.
//
// Start finds node on PATH and the npm package dynalite in
// node_modules/dynalite of a given directory or one above it (mullet's
// repository pins it in package.json; `npm ci` installs it), launches it
// on a free port with its table operations instant, and waits until it
// accepts connections. It runs dynalite with one DynamoDB feature that
// dynalite 4.0.0 lacks added (condcheck.js): ReturnValuesOnConditionCheckFailure
// ALL_OLD, which returns the item with a refused conditional write, so
// that what a store costs in requests against it is what it costs on
// DynamoDB. CreateTable makes a table with mullet's layout (pk
// and sk strings; dynalite has no UpdateTimeToLive, which no store call
// needs). Close kills it; the server keeps everything in memory.
//
//	srv, err := dynalite.Start(ctx, &dynalite.Options{Dirs: []string{appDir}})
//	if errors.Is(err, dynalite.ErrUnavailable) { ... tell how to install it ... }
//	defer srv.Close()
//	err = srv.CreateTable(ctx, "mullet-dev")
//
// The clients it makes use placeholder credentials and a fixed region and
// never consult the AWS configuration chain, so nothing probes the EC2
// instance metadata service.
package dynalite
