package pkcs11

import (
	"crypto/x509"

	"github.com/sclogon/sclogon/card"
)

// Config chooses a module and a token in it.
type Config struct {
	// Module is the module's path, or a file name the dynamic loader
	// finds; empty means [DefaultModule].
	Module string
	// Slot is a PKCS #11 slot ID; nil means any slot.
	Slot *uint
	// Token is a token label; empty means any token.
	Token string
}

// Object is an X.509 certificate on the token.
type Object struct {
	Slot  card.Slot // the number Token gives it (see the package doc)
	ID    []byte    // CKA_ID, which its private key shares
	Label string    // CKA_LABEL
	Cert  *x509.Certificate
}
