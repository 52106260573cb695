//go:build !(cgo && (linux || freebsd || openbsd))

package pcsc

import "github.com/sclogon/sclogon/card"

// Provider is unavailable in this build.
type Provider struct{ Short bool }

// Readers reports [ErrUnavailable].
func (Provider) Readers() ([]string, error) { return nil, ErrUnavailable }

// Open reports [ErrUnavailable].
func (Provider) Open(string) (card.Card, error) { return nil, ErrUnavailable }

// Error is a PC/SC return code (never produced in this build).
type Error struct {
	Op   string
	Code uint32
}

func (e *Error) Error() string { return "pcsc: " + e.Op }
