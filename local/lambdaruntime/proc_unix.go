//go:build unix && !linux

package lambdaruntime

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts an instance in its own process group, so that
// killing it reaches any children.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killProcess(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
