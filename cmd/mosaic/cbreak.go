package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// cbreak switches a terminal's input to one key at a time without echo (Ctrl-C still sends
// SIGINT, unlike golang.org/x/term's raw mode, and output keeps its line endings); it returns
// what restores the terminal. The termios requests differ by platform (cbreak_*.go).
func cbreak(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, getTermios)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Lflag &^= unix.ICANON | unix.ECHO
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, setTermios, &raw); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, setTermios, old) }, nil
}
