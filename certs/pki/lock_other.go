//go:build !unix

package pki

// lockDir is process-local where flock is unavailable; the CA's own mutex
// still serialises changes within one process.
func lockDir(string) (func(), error) { return func() {}, nil }
