module github.com/sclogon/sclogon

go 1.26.8

require (
	github.com/Azure/go-ntlmssp v0.1.1 // indirect
	github.com/go-asn1-ber/asn1-ber v1.5.8 // indirect
	github.com/go-ldap/ldap/v3 v3.4.15 // indirect
	github.com/go-piv/piv-go/v2 v2.6.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jcmturner/gokrb5/v8 v8.4.4 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/term v0.47.0 // indirect
)
