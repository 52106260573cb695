package certs

import "encoding/asn1"

// Extended key usages that matter for logon. The standard library knows
// serverAuth, clientAuth and OCSPSigning as [x509.ExtKeyUsage] values; the
// Kerberos and Microsoft ones are only available as OIDs.
var (
	// OIDExtKeyUsageSmartCardLogon is szOID_KP_SMARTCARD_LOGON, the EKU an AD
	// KDC requires in a client certificate when an EKU extension is present.
	OIDExtKeyUsageSmartCardLogon = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 2}
	// OIDExtKeyUsagePKINITClientAuth is id-pkinit-KPClientAuth, RFC 4556 §3.2.2.
	OIDExtKeyUsagePKINITClientAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 4}
	// OIDExtKeyUsagePKINITKDC is id-pkinit-KPKdc, RFC 4556 §3.2.4.
	OIDExtKeyUsagePKINITKDC = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 5}
	// OIDExtKeyUsageMSKDCAuthentication is Microsoft's "KDC Authentication";
	// it is the same OID as id-pkinit-KPKdc.
	OIDExtKeyUsageMSKDCAuthentication = OIDExtKeyUsagePKINITKDC
	// OIDExtKeyUsageServerAuth is id-kp-serverAuth, RFC 5280 §4.2.1.12.
	OIDExtKeyUsageServerAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	// OIDExtKeyUsageClientAuth is id-kp-clientAuth, RFC 5280 §4.2.1.12.
	OIDExtKeyUsageClientAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
	// OIDExtKeyUsageOCSPSigning is id-kp-OCSPSigning, RFC 6960 §4.2.2.2.
	OIDExtKeyUsageOCSPSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 9}
)

// Name forms and extensions.
var (
	// OIDSubjectAltName is id-ce-subjectAltName, RFC 5280 §4.2.1.6.
	OIDSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// OIDUPN is szOID_NT_PRINCIPAL_NAME, the MS UPN otherName.
	OIDUPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
	// OIDPKINITSAN is id-pkinit-san, RFC 4556 §3.2.2.
	OIDPKINITSAN = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 2}
	// OIDNTDSCASecurityExt is szOID_NTDS_CA_SECURITY_EXT, the SID extension
	// of KB5014754.
	OIDNTDSCASecurityExt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 2}
	// OIDNTDSObjectSID is szOID_NTDS_OBJECTSID, the otherName inside
	// [OIDNTDSCASecurityExt] that carries the SID string.
	OIDNTDSObjectSID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 2, 1}
)
