//go:build linux || darwin || freebsd

package storage

import "syscall"

// diskSpace reports total and free bytes of the filesystem holding dir, or
// zeros when unknown (e.g. dir not created yet). Free counts only blocks
// available to unprivileged users, since pisbackup should not run as root.
func diskSpace(dir string) (total, free int64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0
	}
	bsize := int64(st.Bsize)
	return int64(st.Blocks) * bsize, int64(st.Bavail) * bsize
}
