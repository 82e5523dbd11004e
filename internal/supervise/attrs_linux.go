package supervise

import "syscall"

// childAttrs: the kernel kills the child when its parent dies (panic, test timeout, ^C), so no
// server is left behind even when no cleanup runs.
func childAttrs(ownGroup bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: ownGroup}
}
