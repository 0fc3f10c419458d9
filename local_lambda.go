//go:build lambda.norpc

package mullet

import (
	"fmt"
	"net/http"
	"os"

	"github.com/mulletgo/mullet/framework"
)

// mainLocal, in a binary built with -tags lambda.norpc (the AWS Lambda
// build, as infra/ builds it), only explains itself: local serving and the
// emulator are left out of that build to keep the Lambda binary small and
// its cold start short.
func mainLocal(app framework.Application, page http.Handler) {
	fmt.Fprintf(os.Stderr, "mullet: %s was built with -tags lambda.norpc, the AWS Lambda build: it serves only inside Lambda (AWS_LAMBDA_RUNTIME_API set). Build it without that tag, or run mullet dev, to serve locally.\n", app.Name())
	os.Exit(2)
}
