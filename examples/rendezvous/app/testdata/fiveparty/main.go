// Command fiveparty is the rendezvous example's main with a party of five,
// for the five-party test in Lambda mode: a Lambda binary fixes its app's
// declaration.
package main

import (
	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/examples/rendezvous/app"
)

func main() { mullet.Main(app.New(5)) }
