//go:build !unix

package kdc

// fileLimit is the process's soft limit on open files; 0 when unknown.
func fileLimit() uint64 { return 0 }
