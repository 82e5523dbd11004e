//go:build unix && !linux

package supervise

import "syscall"

// childAttrs: parent-death signals exist on Linux only; elsewhere Stop and the tests' cleanups
// are the only shutdown path.
func childAttrs(ownGroup bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: ownGroup}
}
