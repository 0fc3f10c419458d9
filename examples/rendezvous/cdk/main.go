// Command cdk is the rendezvous service's AWS infrastructure: npx cdk deploy.
package main

import (
	"github.com/mulletgo/mullet/examples/rendezvous/app"
	"github.com/mulletgo/mullet/infra"
)

func main() {
	infra.Synth("Rendezvous", &infra.WebSocketAppProps{Manifest: app.New(2).Manifest(), MainPackageDir: ".."})
}
