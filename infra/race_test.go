//go:build race

package infra_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// raceDetector reports a -race build: see TestMain.
const raceDetector = true

// removeJSIIRuntimeFiles removes what jsii.Close would have: the directory
// into which jsii-runtime-go extracted the node runtime that this process
// started, found through the running child's command line (node
// <dir>/bin/jsii-runtime.js). Best effort, Linux only.
func removeJSIIRuntimeFiles() {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	parent := strconv.Itoa(os.Getpid())
	for _, stat := range procs {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(fields) < 2 || fields[1] != parent {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(stat), "cmdline"))
		for _, arg := range strings.Split(string(cmdline), "\x00") {
			if dir := filepath.Dir(filepath.Dir(arg)); strings.HasSuffix(arg, "/bin/jsii-runtime.js") && strings.HasPrefix(filepath.Base(dir), "jsii-runtime.") {
				os.RemoveAll(dir)
			}
		}
	}
}
