//go:build race

package kdc_test

// raceEnabled: the race detector's shadow memory (tens of kilobytes per
// goroutine) is in the resident size, so memory ceilings are checked on the
// runtime's own accounting instead.
const raceEnabled = true
