package infra_test

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	rendezvous "github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/infra"
)

// A CDK program (main.go next to a cdk.json of {"app": "go run ."}) that
// deploys the rendezvous example with `npx cdk deploy`.
func ExampleNewWebSocketApp() {
	defer jsii.Close()
	cdkApp := awscdk.NewApp(nil)
	stack := awscdk.NewStack(cdkApp, jsii.String("Rendezvous"), nil)
	infra.NewWebSocketApp(stack, jsii.String("App"), &infra.WebSocketAppProps{
		Manifest:       rendezvous.New(2).Manifest(),
		MainPackageDir: "..", // the directory of the app's main package
	})
	cdkApp.Synth(nil)
}

// Options: a stage name, a bigger function, a table that is deleted with
// the stack and backed up while it lives, and a Lambda authorizer that
// reads a token from the query string of the $connect request.
func ExampleNewWebSocketApp_options() {
	defer jsii.Close()
	cdkApp := awscdk.NewApp(nil)
	stack := awscdk.NewStack(cdkApp, jsii.String("RendezvousDev"), nil)
	authorizer := awslambda.Function_FromFunctionName(stack, jsii.String("Auth"), jsii.String("my-authorizer"))
	infra.NewWebSocketApp(stack, jsii.String("App"), &infra.WebSocketAppProps{
		Manifest:            rendezvous.New(2).Manifest(),
		MainPackageDir:      "..",
		StageName:           "dev",
		MemorySize:          512,
		TableRemovalPolicy:  awscdk.RemovalPolicy_DESTROY,
		PointInTimeRecovery: true,
		ConnectAuthorizer: &infra.ConnectAuthorizer{
			Function:       authorizer,
			IdentitySource: []string{"route.request.querystring.token"},
		},
		Environment: map[string]string{"LOG_LEVEL": "debug"},
	})
	cdkApp.Synth(nil)
}
