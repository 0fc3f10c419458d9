//go:build !race

package infra_test

// raceDetector reports a -race build: see TestMain.
const raceDetector = false

func removeJSIIRuntimeFiles() {}
