package backup

import (
	"os"

	"golang.org/x/sys/unix"
)

// growPipe asks the kernel for a larger pipe buffer (up to /proc/sys/fs/pipe-max-size, 1 MiB by default), so
// pg_dump keeps writing while the reader waits; a refusal only means the default 64 KiB.
func growPipe(f *os.File, size int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size) })
}
