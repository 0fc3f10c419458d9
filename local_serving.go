//go:build !lambda.norpc

package mullet

import (
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/local/devstore"
	"github.com/mulletgo/mullet/store"
)

// The only file a build tag guards: every build but the AWS Lambda build
// serves locally, and, run as a Lambda instance by mullet dev, reaches the
// store mullet dev holds. The public API is the same in both.
func init() {
	serveLocally = local.Run
	openDevStore = func(url string) store.Store { return devstore.New(url, nil) }
}
