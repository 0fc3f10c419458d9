// Command lambda is the bench app's main: Lambda in AWS, local otherwise.
package main

import (
	"github.com/mulletgo/mullet"
	"github.com/mulletgo/mullet/internal/benchapp"
)

func main() { mullet.Main(benchapp.New()) }
