package cardkey

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/vcard"
)

// Open opens the card a spec names ([ParseSpec]) and returns a Signer over
// its key: the software card in this process (its state file saved after
// every change, retry counters included), or the card in a PC/SC reader
// through the generic PIV client. cert and pin are as for [New].
func Open(spec string, cert *x509.Certificate, pin PINSource) (*Signer, error) {
	sp, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	var c card.Card
	switch sp.Kind {
	case "vcard":
		st, err := vcard.Load(sp.Target)
		if err != nil {
			return nil, fmt.Errorf("cardkey: %w", err)
		}
		soft := vcard.New(st, vcard.Options{Rand: rand.Reader, Save: func(s *vcard.State) error { return s.Save(sp.Target) }})
		if c, err = apdu.Open(soft, "software card "+sp.Target, apdu.Options{}); err != nil {
			return nil, fmt.Errorf("cardkey: %s: %w", sp, err)
		}
	case "pcsc":
		if c, err = (pcsc.Provider{}).Open(sp.Target); err != nil {
			return nil, fmt.Errorf("cardkey: %s: %w", sp, err)
		}
	}
	s, err := New(c, sp.Slot, cert, pin)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w (%s)", err, sp)
	}
	return s, nil
}

// PINFile is a PINSource that reads the PIN from the first line of a file
// each time it is asked, so the PIN stays in memory only while presented.
func PINFile(path string) PINSource {
	return func() (*card.PIN, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		defer clear(b)
		line, _, _ := bytes.Cut(b, []byte("\n"))
		return card.NewPIN(bytes.Clone(bytes.TrimSuffix(line, []byte("\r"))))
	}
}

// OpenWithPINFile is [Open] with the PIN read from pinFile ("" for a key
// without a PIN); it fits kdc.KeyOpener.
func OpenWithPINFile(spec string, cert *x509.Certificate, pinFile string) (crypto.Signer, *x509.Certificate, error) {
	var pin PINSource
	if pinFile != "" {
		pin = PINFile(pinFile)
	}
	s, err := Open(spec, cert, pin)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Certificate(), nil
}
