package pkcs11

import (
	"errors"
	"fmt"
)

// DefaultModule is p11-kit's proxy module (Debian's p11-kit-modules), which
// offers the tokens of every module p11-kit knows, as SSSD uses it.
const DefaultModule = "p11-kit-proxy.so"

// Errors callers branch on.
var (
	// ErrUnavailable: this build has no PKCS #11 (built without cgo).
	ErrUnavailable = errors.New("pkcs11: this build of sclogon has no PKCS #11 support (built without cgo)")
	// ErrModule: the module could not be loaded.
	ErrModule = errors.New("pkcs11: cannot load the module")
	// ErrNoToken: no slot holds a token that fits the [Config].
	ErrNoToken = errors.New("pkcs11: no token found")
)

// Error is a PKCS #11 return value with no meaning of its own here.
type Error struct {
	Op   string // the function: "C_Sign"
	Code uint   // the CK_RV
	Name string // "CKR_KEY_TYPE_INCONSISTENT"; may be empty
}

func (e *Error) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("pkcs11: %s failed: 0x%X", e.Op, e.Code)
	}
	return fmt.Sprintf("pkcs11: %s failed: %s", e.Op, e.Name)
}
