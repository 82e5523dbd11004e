package standin

import "syscall"

// childAttrs makes the kernel kill a stand-in when the test binary dies
// (panic, timeout, ^C), so no server is left behind even without cleanup.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
