// Command cdk is the chat relay's AWS infrastructure: npx cdk deploy.
// Only the websocket service is deployed: the chat page in web/ is a local
// convenience (mullet.Main serves it next to the emulator).
package main

import (
	"github.com/mulletgo/mullet/examples/chat/app"
	"github.com/mulletgo/mullet/infra"
)

func main() {
	infra.Synth("Chat", &infra.WebSocketAppProps{Manifest: app.New().Manifest(), MainPackageDir: ".."})
}
