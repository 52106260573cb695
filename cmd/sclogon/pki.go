package main

import (
	"context"

	"github.com/sclogon/sclogon/certs/pki"
)

func init() {
	register(&command{
		name:    "pki",
		summary: "the test PKI: a CA, user and KDC certificates, revocation, an OCSP responder, card enrollment",
		help: `
usage: sclogon pki init|issue|revoke|ocsp|enroll [flags]

The test CA issues exactly the certificates Active Directory issues: user
certificates with a UPN (and optionally an id-pkinit-san and the KB5014754 SID
extension), KDC certificates with id-pkinit-KPKdc and the krbtgt SAN, and OCSP
responder certificates. 'sclogon pki enroll' puts a key generated on a PIV
card, and the CA's certificate for it, into one of the card's slots.
'sclogon pki SUBCOMMAND -h' explains each.

Examples:
  sclogon pki init --dir ca --intermediate --ocsp-url http://127.0.0.1:8080/
  sclogon pki issue user --dir ca --upn alice@example.com --out alice
  sclogon pki issue kdc --dir ca --realm EXAMPLE.COM --dns kdc.example.com --out kdc
  sclogon pki revoke --dir ca 1001 --reason keyCompromise
  sclogon pki ocsp --dir ca --listen 127.0.0.1:8080
  sclogon pki enroll --dir ca --upn alice@example.com --sid S-1-5-21-1-2-3-1104
`,
		subHelp: true,
		run: func(ctx context.Context, s stdio, args []string) int {
			if len(args) > 0 && args[0] == "enroll" {
				return runEnroll(ctx, s, args[1:]) // card/enroll: certs/pki knows no cards
			}
			return pki.Main(args, s.out, s.errOut)
		},
	})
}
