package backup

// SetMaxGlobalsBytes lowers the global-objects bound for a test and returns the restore function. Only
// sequential (non-parallel) tests may call it: parallel ones resume after them.
func SetMaxGlobalsBytes(n int64) (restore func()) {
	old := maxGlobalsBytes
	maxGlobalsBytes = n
	return func() { maxGlobalsBytes = old }
}
