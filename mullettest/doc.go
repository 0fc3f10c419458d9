// Package mullettest runs a mullet app behind the local API Gateway emulator
// for tests, on a free loopback port, and gives real websocket clients to
// talk to it; in the spirit of net/http/httptest.
//
//	srv := mullettest.NewServer(t, app.New(), nil)
//	c := srv.Dial(t, nil)
//	c.SendJSON(t, map[string]string{"action": "nick", "nick": "ann"})
//	var ev app.Event
//	c.ReadJSON(t, &ev)
//
// Dial options give the upgrade request headers and a query string (what an
// authorizer reads) and the source IP the app sees (a loopback address the
// client binds to, since the emulator, like API Gateway, takes it from the
// connection). A frame the emulator refuses is logged with why (the route
// and every schema violation, or the routes there are), and ReadJSON fails
// with that reason when it gets API Gateway's error frame instead of a
// value. Timeouts say what the client waited for.
//
// With Options.Lambda the app's real Lambda binary serves instead: its main
// package is built and run as Lambda instances behind an emulated Lambda
// Runtime API (package lambdaruntime), sharing a DynamoDB table:
//
//	db := dynalitetest.Start(t)
//	srv := mullettest.NewServer(t, app.New(), &mullettest.Options{Lambda: &mullettest.Lambda{
//		MainDir: "..", Table: db.NewTable(t), DynamoDBEndpoint: db.Endpoint,
//	}})
package mullettest
