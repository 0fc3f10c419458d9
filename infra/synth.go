package infra

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// Synth is the whole main of a mullet CDK app: it creates a CDK app with one
// environment-agnostic stack named stackName, holding one WebSocketApp
// (construct id "App") built from props, synthesizes it into the cloud
// assembly the cdk CLI asked for, and releases the jsii runtime.
//
//	func main() {
//		infra.Synth("Rendezvous", &infra.WebSocketAppProps{Manifest: app.New(2).Manifest(), MainPackageDir: ".."})
//	}
//
// Apps that need more (several stacks, other constructs) call
// NewWebSocketApp themselves.
func Synth(stackName string, props *WebSocketAppProps) {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String(stackName), nil)
	NewWebSocketApp(stack, jsii.String("App"), props)
	app.Synth(nil)
}
