//go:build race

package mullettest_test

// raceDetector reports a -race build, whose shadow memory makes RSS grow
// with every address the program ever touched.
const raceDetector = true
