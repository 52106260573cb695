package pcsc

import "errors"

// ErrUnavailable: this build has no PC/SC (built without cgo).
var ErrUnavailable = errors.New("pcsc: this build of sclogon has no PC/SC support (built without cgo)")
