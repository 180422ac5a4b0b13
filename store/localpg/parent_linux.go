package localpg

import "syscall"

// parentDeathSignal: the kernel signals the server when its parent dies (Pdeathsig).
const parentDeathSignal = true

// stopWithParent asks the kernel to send the server SIGINT (fast shutdown) when we die.
func stopWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGINT }
