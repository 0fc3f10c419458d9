// Package bootstrap builds a mullet app's main package into an executable
// and reads the manifest of a built one. It is the one place the build
// command is written: infra builds the Lambda bootstrap with it (for
// linux/arm64), mullet dev and mullettest build the same bootstrap for this
// machine to run behind an emulated Lambda Runtime API, mullet bench
// measures it, and mullet dev builds the local server (Local) with it.
//
// A Lambda build uses -tags lambda.norpc (aws-lambda-go's unused net/rpc
// mode, and mullet's local serving, left out), no cgo, -trimpath,
// -buildvcs=false and -ldflags "-s -w": the binary is a function of the
// source and the toolchain only.
package bootstrap
