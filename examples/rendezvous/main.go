// Command rendezvous is the NAT-punch pairing service. Inside AWS Lambda it
// serves API Gateway; run directly it serves locally on 127.0.0.1:8080.
package main

import (
	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/examples/rendezvous/app"
)

func main() { mullet.Main(app.New(2)) }
