// Command cdk is the rendezvous service's AWS infrastructure: npx cdk deploy.
package main

import (
	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/infra"
)

func main() {
	// One API key per tenant, in its usage plan; API Gateway generates the
	// values (aws apigateway get-api-key --include-value).
	infra.Synth("Rendezvous", &infra.WebSocketAppProps{Manifest: app.New(2).Manifest(), MainPackageDir: "..",
		APIKeys: []infra.APIKey{
			{Name: "tenant-free", Plan: app.FreePlanName},
			{Name: "tenant-paid", Plan: app.PaidPlanName},
		}})
}
