// Package faults holds fault-injection tests that kill processes, fill disks or restart PostgreSQL. They run
// with `make faults` (build tag "faults"), serially, because they disturb what other tests share.
package faults
