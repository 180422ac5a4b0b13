//go:build !linux

package localpg

import "syscall"

// parentDeathSignal: no parent-death signal on this platform; watchParent stands in for it.
const parentDeathSignal = false

func stopWithParent(*syscall.SysProcAttr) {}
