// Package dynalitetest runs dynalite, a DynamoDB-API server on node, for
// tests and benchmarks that want a real DynamoDB wire protocol without an AWS
// account.
//
// Start launches one server bound to 127.0.0.1 on a free port and stops it
// when the test ends; NewClient and NewTable give each test a client and a
// fresh table with mullet's layout:
//
//	srv := dynalitetest.Start(t)
//	client := srv.NewClient(t)
//	table := srv.NewTable(t)
//	s := dynamostore.New(client, table, nil)
//
// The server is the npm package dynalite, pinned in the repository's
// package.json and installed into <repo root>/node_modules by `npm ci`,
// found and run by package local/dynalite (which mullet dev uses too). When
// node or the package is missing the test is skipped with a message saying
// how to install it, except when the environment has CI=true, where a
// missing server fails the test instead.
//
// LostAnswers is a client transport that injects the one fault a real
// DynamoDB client must survive and dynalite cannot produce: a write that was
// applied, answered with an error.
package dynalitetest
