//go:build !lambda.norpc

package mullet

import "github.com/mulletgo/mullet/local"

// The only file a build tag guards: every build but the AWS Lambda build
// serves locally. The public API is the same in both.
func init() { serveLocally = local.Run }
