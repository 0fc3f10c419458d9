// Package mullettest runs a mullet app behind the local API Gateway emulator
// for tests, on a free loopback port, and gives real websocket clients to
// talk to it; in the spirit of net/http/httptest.
//
//	srv := mullettest.NewServer(t, app.New(), nil)
//	c := srv.Dial(t)
//	c.SendJSON(t, map[string]string{"action": "nick", "nick": "ann"})
//	frame := c.Read(t)
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
