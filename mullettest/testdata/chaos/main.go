// Command chaos runs the chaos test's app, for the test's Lambda mode.
package main

import (
	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/mullettest/testdata/chaos/app"
)

func main() { mullet.Main(app.New()) }
