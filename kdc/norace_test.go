//go:build !race

package kdc_test

const raceEnabled = false
