// Command chat is a chat relay with rooms. Inside AWS Lambda it serves API
// Gateway; run locally (mullet dev ./examples/chat) it serves on
// 127.0.0.1:8080, with the page in web/ at http://127.0.0.1:8080/.
package main

// The page's copies: the browser client and the TypeScript types of this
// app's frames (TestPageCopies keeps them current).
//go:generate cp ../../client/browser/mullet.js web/mullet.js
//go:generate go run ../../cmd/mullet asyncapi -ts -o web/api.d.ts .

import (
	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/examples/chat/app"
)

func main() { mullet.Main(app.New()) }
