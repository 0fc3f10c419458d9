// Package infra turns a mullet app's manifest into AWS infrastructure with
// the AWS CDK (Go).
//
// NewWebSocketApp builds, from a *manifest.Manifest and the directory of the
// app's main package, everything the app needs in AWS: an API Gateway
// WebSocket API with one route per manifest route, one request model per
// route schema (so API Gateway rejects bad frames before any Lambda runs), a
// stage, a DynamoDB table for connections, state, groups and barriers, one
// arm64 Lambda function built from the main package, its log group, and an
// IAM role that may do only what the runtime does.
//
// infra never imports user code or the framework root package, so a CDK
// program stays a few lines:
//
//	func main() {
//		defer jsii.Close()
//		cdkApp := awscdk.NewApp(nil)
//		stack := awscdk.NewStack(cdkApp, jsii.String("Rendezvous"), nil)
//		infra.NewWebSocketApp(stack, jsii.String("App"), &infra.WebSocketAppProps{
//			Manifest:       app.New(2).Manifest(),
//			MainPackageDir: "..",
//		})
//		cdkApp.Synth(nil)
//	}
//
// with a cdk.json of {"app": "go run ."}; then `npx cdk deploy`.
//
// Like the CDK's own constructs, NewWebSocketApp panics on a mistake in its
// input (an invalid manifest, a main package that does not build): these
// surface at `cdk synth`, before anything is deployed.
package infra
