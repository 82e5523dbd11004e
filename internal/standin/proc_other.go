//go:build !linux

package standin

import "syscall"

// childAttrs: parent-death signals exist on Linux only; elsewhere the
// tb.Cleanup / Close calls are the only shutdown path.
func childAttrs() *syscall.SysProcAttr { return nil }
