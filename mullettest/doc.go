// Package mullettest runs a mullet app behind the local API Gateway emulator
// for tests, on a free loopback port, and gives real websocket clients to
// talk to it; in the spirit of net/http/httptest.
//
//	srv := mullettest.NewServer(t, app.New(), nil)
//	c := srv.Dial(t)
//	c.SendJSON(t, map[string]string{"action": "nick", "nick": "ann"})
//	frame := c.Read(t)
package mullettest
