package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"time"
)

// The flag syntax of 'sclogon pki issue', for commands that issue through
// the CA with the same flags (sclogon pki enroll).

// EKUHelp describes the --eku syntax.
const EKUHelp = ekuHelp

// KeyUsageHelp describes the --ku syntax.
const KeyUsageHelp = kuHelp

// ParseEKUs reads a comma-separated EKU list: smartcardlogon, pkinitclient,
// pkinitkdc, kdcauth, clientauth, serverauth, ocspsigning, dotted OIDs, or
// "none" (an empty, non-nil list). "" is nil: the profile's default.
func ParseEKUs(s string) ([]asn1.ObjectIdentifier, error) { return parseEKUs(s) }

// ParseKeyUsage reads a comma-separated key usage list; "" is 0, the
// profile's default.
func ParseKeyUsage(s string) (x509.KeyUsage, error) { return parseKU(s) }

// ParseValidity reads a validity such as 8760h or 365d.
func ParseValidity(s string) (time.Duration, error) { return parseValidity(s) }
