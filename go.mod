module github.com/sclogon/sclogon

go 1.26.8

require (
	filippo.io/bigmod v0.1.0
	github.com/go-ldap/ldap/v3 v3.4.15
	github.com/go-piv/piv-go/v2 v2.6.0
	github.com/jcmturner/gofork v1.7.6
	github.com/jcmturner/gokrb5/v8 v8.4.4
	github.com/jcmturner/rpc/v2 v2.0.3
	github.com/miekg/pkcs11 v1.1.2
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
	software.sslmate.com/src/go-pkcs12 v0.7.4
)

require (
	github.com/Azure/go-ntlmssp v0.1.1 // indirect
	github.com/go-asn1-ber/asn1-ber v1.5.8 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/hashicorp/go-uuid v1.0.3 // indirect
	github.com/jcmturner/aescts/v2 v2.0.0 // indirect
	github.com/jcmturner/dnsutils/v2 v2.0.0 // indirect
	golang.org/x/net v0.60.0 // indirect
)
