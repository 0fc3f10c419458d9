// Command cdk is the chat relay's AWS infrastructure: `npx cdk deploy`.
// Only the websocket service is deployed: the chat page in web/ is a local
// convenience (mullet.Main serves it next to the emulator).
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/mulletgo/mullet/examples/chat/app"
	"github.com/mulletgo/mullet/infra"
)

func main() {
	defer jsii.Close()
	cdkApp := awscdk.NewApp(nil)
	stack := awscdk.NewStack(cdkApp, jsii.String("Chat"), nil)
	infra.NewWebSocketApp(stack, jsii.String("App"), &infra.WebSocketAppProps{Manifest: app.New().Manifest(), MainPackageDir: ".."})
	cdkApp.Synth(nil)
}
