package kinit

import (
	"crypto"
	"crypto/x509"
)

// Identity is the client's certificate and private key: a software key from
// FILE: or PKCS12: (package [github.com/sclogon/sclogon/kinit/identity]), or a
// key on a card. The card adapter implements it over card.Card: Signer signs
// on the card (asking for the PIN when it must), Decrypter decrypts on it.
type Identity interface {
	// Certificate is the client certificate whose key signs the AuthPack.
	Certificate() *x509.Certificate
	// Chain holds intermediate CA certificates to send with it, issuer
	// first; it may be empty.
	Chain() []*x509.Certificate
	// Signer signs with the certificate's key.
	Signer() crypto.Signer
	// Decrypter decrypts with the certificate's key (RSA key transport);
	// ok is false when the key cannot decrypt.
	Decrypter() (d crypto.Decrypter, ok bool)
	// Label names the identity for people ("FILE:alice.pem", "card slot 9a").
	Label() string
}

// SessionIdentity is an Identity that can keep its key for a run of
// operations: a card kept in one transaction from RSA key transport's
// signature to the decryption of the KDC's answer, so that the person
// enters the PIN once, on a PIN pad too. end lets the key go.
type SessionIdentity interface {
	Identity
	Session() (end func() error)
}
