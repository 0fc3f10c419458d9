package lambdaruntime

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts an instance in its own process group, so that
// killing it reaches any children, and has the kernel kill it if this
// process dies without closing the pool.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killProcess(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
