//go:build unix && !linux

package dynalite

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the server in its own process group, so that stop
// reaches any children.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
