// Package identity reads software PKINIT identities in MIT's
// X509_user_identity syntax: FILE:cert.pem,key.pem and PKCS12:file.p12 (legacy
// or OpenSSL 3's default encoding).
//
// Call [Parse] with the string a user gave to --identity or -X
// X509_user_identity=; the result implements [kinit.Identity]. A PKCS #12
// password is asked for through [Options.Password] only when the file is
// protected by one, and is wiped after use.
//
// [kinit.Identity]: https://pkg.go.dev/github.com/sclogon/sclogon/kinit#Identity
package identity

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/sclogon/sclogon/certs"
)

// Errors callers branch on.
var (
	// ErrSyntax: the identity string is not one this package reads.
	ErrSyntax = errors.New("identity: unsupported identity")
	// ErrBadPassword: the PKCS #12 password is wrong.
	ErrBadPassword = errors.New("identity: wrong PKCS #12 password")
	// ErrKeyMismatch: the private key is not the certificate's.
	ErrKeyMismatch = errors.New("identity: the private key does not belong to the certificate")
	// ErrUnsupportedFile: the file uses an encoding or algorithm this package
	// does not read.
	ErrUnsupportedFile = errors.New("identity: unsupported file format")
)

// Options are what reading an identity may need.
type Options struct {
	// Password returns the password of a protected PKCS #12 file; prompt
	// names the file. The caller's slice is wiped after use. Nil means no
	// password can be given.
	Password func(prompt string) ([]byte, error)
}

// Software is an identity whose key is in memory.
type Software struct {
	cert  *x509.Certificate
	chain []*x509.Certificate
	key   crypto.Signer
	label string
}

// Certificate returns the client certificate.
func (s *Software) Certificate() *x509.Certificate { return s.cert }

// Chain returns the other certificates the file held, for the AuthPack.
func (s *Software) Chain() []*x509.Certificate { return s.chain }

// Signer returns the private key.
func (s *Software) Signer() crypto.Signer { return s.key }

// Decrypter returns the key as a decrypter when it is RSA.
func (s *Software) Decrypter() (crypto.Decrypter, bool) {
	d, ok := s.key.(*rsa.PrivateKey)
	return d, ok
}

// Label is the identity as the user wrote it.
func (s *Software) Label() string { return s.label }

// Parse reads the identity spec names: "FILE:cert.pem,key.pem" (key in the
// certificate's file when left out) or "PKCS12:file.p12".
func Parse(spec string, o Options) (*Software, error) {
	typ, rest, ok := strings.Cut(spec, ":")
	if !ok || rest == "" {
		return nil, fmt.Errorf("%w %q: want FILE:cert.pem,key.pem or PKCS12:file.p12", ErrSyntax, spec)
	}
	switch strings.ToUpper(typ) {
	case "FILE":
		certPath, keyPath, _ := strings.Cut(rest, ",")
		if keyPath == "" {
			keyPath = certPath
		}
		return readFiles(spec, certPath, keyPath)
	case "PKCS12":
		return readPKCS12(spec, rest, o)
	case "PKCS11":
		return nil, fmt.Errorf("%w %q: a PKCS11: identity is a token, opened with ParsePKCS11 and OpenPKCS11", ErrSyntax, spec)
	}
	return nil, fmt.Errorf("%w %q: the %s: type is not supported; want FILE:cert.pem,key.pem or PKCS12:file.p12", ErrSyntax, spec, typ)
}

func readFiles(label, certPath, keyPath string) (*Software, error) {
	certData, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	chain, err := certs.ParseCertificates(certData)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnsupportedFile, certPath, err)
	}
	keyData := bytes.Clone(certData) // wiped below; the certificates keep certData
	if keyPath != certPath {
		if keyData, err = os.ReadFile(keyPath); err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
	}
	defer wipe(keyData)
	key, err := parseKey(keyData)
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", keyPath, err)
	}
	return assemble(label, chain, key)
}

func readPKCS12(label, path string, o Options) (*Software, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	// Many PKCS #12 files have an empty password: try it before asking.
	key, certs, err := decodePKCS12(data, nil)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		if o.Password == nil {
			return nil, fmt.Errorf("%w: %s is protected and no password can be asked for", ErrBadPassword, path)
		}
		pw, perr := o.Password(fmt.Sprintf("Password for %s: ", path))
		if perr != nil {
			return nil, fmt.Errorf("identity: password for %s: %w", path, perr)
		}
		key, certs, err = decodePKCS12(data, pw)
		wipe(pw)
	}
	var nie pkcs12.NotImplementedError
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return nil, fmt.Errorf("%w for %s", ErrBadPassword, path)
	case errors.As(err, &nie):
		return nil, fmt.Errorf("%w: %s: %w (use FILE:cert.pem,key.pem instead)", ErrUnsupportedFile, path, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %w", ErrUnsupportedFile, path, err)
	}
	signer, err := signerOf(key)
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", path, err)
	}
	return assemble(label, certs, signer)
}

// decodePKCS12 reads a PKCS #12 file in any of the encodings OpenSSL
// writes: legacy (3DES or RC2 with a SHA-1 MAC) and OpenSSL 3's default
// (PBES2 with AES-256-CBC and PBKDF2, SHA-256 MAC). The reader takes the
// password as a string, a copy that cannot be wiped; the caller wipes pw.
// certs holds every certificate; assemble picks the key's own among them,
// whatever their order in the file.
func decodePKCS12(data, pw []byte) (key any, certs []*x509.Certificate, err error) {
	key, leaf, chain, err := pkcs12.DecodeChain(data, string(pw))
	if err != nil {
		return nil, nil, err
	}
	return key, append([]*x509.Certificate{leaf}, chain...), nil
}

// assemble picks the certificate of key among certs; the others form the chain.
func assemble(label string, certs []*x509.Certificate, key crypto.Signer) (*Software, error) {
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no certificate in %s", ErrUnsupportedFile, label)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedFile, err)
	}
	s := &Software{key: key, label: label}
	for _, c := range certs {
		if s.cert == nil && bytes.Equal(c.RawSubjectPublicKeyInfo, pub) {
			s.cert = c
			continue
		}
		s.chain = append(s.chain, c)
	}
	if s.cert == nil {
		return nil, fmt.Errorf("%w (%s)", ErrKeyMismatch, label)
	}
	return s, nil
}

func parseKey(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			k, err := parseKeyDER(b.Bytes)
			wipe(b.Bytes)
			return k, err
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w: encrypted PEM keys are not read (use a PKCS12 identity)", ErrUnsupportedFile)
		}
	}
	return parseKeyDER(data)
}

func parseKeyDER(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return signerOf(k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w: no PKCS #8, PKCS #1 or SEC 1 private key", ErrUnsupportedFile)
}

// signerOf accepts the key types that can sign a PKINIT request.
func signerOf(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return nil, fmt.Errorf("%w: Ed25519 keys cannot sign PKINIT requests", ErrUnsupportedFile)
	}
	return nil, fmt.Errorf("%w: private key type %T", ErrUnsupportedFile, k)
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
