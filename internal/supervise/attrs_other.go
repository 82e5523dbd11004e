//go:build !unix

package supervise

import "syscall"

// childAttrs: no process groups or parent-death signals here; Stop is the only shutdown path.
func childAttrs(bool) *syscall.SysProcAttr { return nil }
