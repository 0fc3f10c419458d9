// Command chat is a chat relay with rooms. Inside AWS Lambda it serves API
// Gateway; run directly (go run ./examples/chat) it serves locally on
// 127.0.0.1:8080 with a small web page at http://127.0.0.1:8080/.
package main

import (
	"embed"
	"net/http"

	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/examples/chat/app"
)

//go:embed web
var web embed.FS

func main() {
	mullet.Main(app.New(), http.FileServerFS(mustSub(web, "web")))
}
