//go:build !race

package mullettest_test

// raceDetector reports a -race build.
const raceDetector = false
