package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/mulletgo/mullet/infra/cdkcontext"
)

// StageContext is the CDK context key that names the API Gateway stage
// (cdkcontext.Stage): `mullet deploy -stage NAME` passes --context
// mullet:stage=NAME to the cdk CLI. NewWebSocketApp uses it when
// props.StageName is empty, and Synth names the stack after it.
const StageContext = cdkcontext.Stage

// stageFromContext returns the stage named in scope's context, "" if none.
// It panics on a name cdkcontext.ValidStage refuses.
func stageFromContext(scope constructs.Construct) string {
	v := scope.Node().TryGetContext(jsii.String(StageContext))
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok || !cdkcontext.ValidStage(s) {
		panic(fmt.Sprintf("infra: the CDK context %s is %v: want 1 to 64 letters, digits and hyphens, starting with a letter or digit", StageContext, v))
	}
	return s
}

// Synth is the whole main of a mullet CDK app: it creates a CDK app with one
// environment-agnostic stack named stackName, holding one WebSocketApp
// (construct id "App") built from props, synthesizes it into the cloud
// assembly the cdk CLI asked for, and releases the jsii runtime.
//
//	func main() {
//		infra.Synth("Rendezvous", &infra.WebSocketAppProps{Manifest: app.New(2).Manifest(), MainPackageDir: ".."})
//	}
//
// A stage named in the CDK context (StageContext, `mullet deploy -stage
// NAME`) other than DefaultStageName is deployed as its own stack,
// stackName-NAME, so that stages live side by side.
//
// Apps that need more (several stacks, other constructs) call
// NewWebSocketApp themselves.
func Synth(stackName string, props *WebSocketAppProps) {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	if stage := stageFromContext(app); stage != "" && stage != DefaultStageName {
		stackName += "-" + stage
	}
	stack := awscdk.NewStack(app, jsii.String(stackName), nil)
	NewWebSocketApp(stack, jsii.String("App"), props)
	app.Synth(nil)
}
