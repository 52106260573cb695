//go:build !(cgo && (linux || freebsd || openbsd))

package pcsc

import (
	"context"
	"time"

	"github.com/sclogon/sclogon/card"
)

// Provider is unavailable in this build; its fields are those of the cgo
// build, so callers compile unchanged.
type Provider struct {
	Short    bool
	NoPINPad bool
	OnPINPad func(reader string)
	Wait     time.Duration
	Waiting  func()
	Context  context.Context
	Card     string
	Reader   string
}

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

// Watcher is unavailable in this build.
type Watcher struct{}

// NewWatcher reports [ErrUnavailable].
func (Provider) NewWatcher() (*Watcher, error) { return nil, ErrUnavailable }

// Close does nothing.
func (*Watcher) Close() error { return nil }

// Readers reports [ErrUnavailable].
func (*Watcher) Readers() ([]string, error) { return nil, ErrUnavailable }

// Cards reports [ErrUnavailable].
func (*Watcher) Cards() (map[string]string, error) { return nil, ErrUnavailable }

// Changed reports [ErrUnavailable].
func (*Watcher) Changed(context.Context) error { return ErrUnavailable }

// PINPad is unavailable in this build.
type PINPad struct{ Notice func(reader string) }

// FindPINPad finds none in this build.
func FindPINPad(string) *PINPad { return nil }

// Reader is empty.
func (*PINPad) Reader() string { return "" }

// Verify reports [ErrUnavailable].
func (*PINPad) Verify(card.PINRole) error { return ErrUnavailable }

// Change reports [ErrUnavailable].
func (*PINPad) Change(card.PINRole) error { return ErrUnavailable }
