package dynalite

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the server in its own process group, so that stop
// reaches any children, and has the kernel kill it if the process that
// started it dies without calling Close.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
