// Command timeouts runs the timeout test app, for the tests' Lambda mode.
package main

import (
	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/mullettest/testdata/timeouts/app"
)

func main() { mullet.Main(app.New()) }
