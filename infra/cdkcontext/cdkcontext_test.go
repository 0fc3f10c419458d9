package cdkcontext_test

import (
	"fmt"

	"github.com/mulletgo/mullet/infra/cdkcontext"
)

func ExampleValidStage() {
	for _, s := range []string{"prod", "dev-2", "my_stage", "-x", ""} {
		fmt.Println(s, cdkcontext.ValidStage(s))
	}
	// Output:
	// prod true
	// dev-2 true
	// my_stage false
	// -x false
	//  false
}
