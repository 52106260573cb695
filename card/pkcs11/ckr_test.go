//go:build cgo

package pkcs11

import (
	"errors"
	"fmt"
	"testing"

	p11 "github.com/miekg/pkcs11"
)

// TestWrapNames: a PKCS #11 failure becomes an *Error carrying its CK_RV
// and the name from the table; a vendor's own value has no name and is
// shown in hex.
func TestWrapNames(t *testing.T) {
	var e *Error
	err := wrap("C_Sign", fmt.Errorf("signing: %w", p11.Error(p11.CKR_KEY_TYPE_INCONSISTENT)))
	if !errors.As(err, &e) || e.Code != p11.CKR_KEY_TYPE_INCONSISTENT || e.Name != "CKR_KEY_TYPE_INCONSISTENT" ||
		e.Error() != "pkcs11: C_Sign failed: CKR_KEY_TYPE_INCONSISTENT" {
		t.Errorf("wrapped CKR_KEY_TYPE_INCONSISTENT: %#v (%v)", e, err)
	}
	vendor := uint(p11.CKR_VENDOR_DEFINED + 7)
	if err := wrap("C_Login", p11.Error(vendor)); !errors.As(err, &e) || e.Code != vendor || e.Name != "" || e.Error() != "pkcs11: C_Login failed: 0x80000007" {
		t.Errorf("wrapped a vendor's value: %#v (%v)", e, err)
	}
	if err := wrap("C_Sign", errors.New("not a CK_RV")); !errors.As(err, &e) || e.Code != p11.CKR_GENERAL_ERROR || e.Name != "CKR_GENERAL_ERROR" {
		t.Errorf("wrapped an error that is no CK_RV: %#v", e)
	}
	if wrap("C_Sign", nil) != nil {
		t.Error("wrap(nil) is not nil")
	}
}
