// Command cdk is the rendezvous service's AWS infrastructure: `npx cdk deploy`.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/infra"
)

func main() {
	defer jsii.Close()
	cdkApp := awscdk.NewApp(nil)
	stack := awscdk.NewStack(cdkApp, jsii.String("Rendezvous"), nil)
	infra.NewWebSocketApp(stack, jsii.String("App"), &infra.WebSocketAppProps{Manifest: app.New(2).Manifest(), MainPackageDir: ".."})
	cdkApp.Synth(nil)
}
