// Package mapping decides whose certificate this is: it maps a logon
// certificate to a directory account the way an Active Directory domain
// controller does, including the KB5014754 strong-mapping rules, and checks
// that the account may log on.
//
// Build a [Mapper] over a [Directory] — [github.com/sclogon/sclogon/mapping/ldap]
// for a real directory, [github.com/sclogon/sclogon/mapping/ldif] for the
// embedded one — and call [Mapper.Map] with the verified certificate, its
// issuer and the AS-REQ client name:
//
//	mapper := mapping.New(dir, mapping.Policy{Enforcement: mapping.EnforcementFull, SIDTrustedCAs: cas}, mapping.Options{Log: log})
//	res, err := mapper.Map(ctx, mapping.Request{Cert: cert, Issuer: issuer, Hint: mapping.Hint{Name: "alice"}})
//	if err != nil {
//		return krbError(mapping.ErrorCode(err), err)
//	}
//	// res.Account: SID, group SIDs, … for the PAC; res.Method and res.Strong for the audit log.
//
// # Methods
//
// [Policy.Order] lists the methods; the default, [DefaultOrder], is:
//
//  1. [MethodSIDExtension]: the szOID_NTDS_CA_SECURITY_EXT SID against
//     objectSid, for certificates from [Policy.SIDTrustedCAs] only. Strong.
//  2. [MethodAltSecID]: altSecurityIdentities against every form of
//     [AltSecIDsFor]: <I><SR>, <SKI> and <SHA1-PUKEY> are strong; <I><S>,
//     <S> and <RFC822> are weak.
//  3. [MethodUPN]: the subjectAltName UPNs against userPrincipalName. Weak.
//
// Every method is tried, so that disagreements are seen. The first method
// that locates an account names the [Result.Method]; the mapping is strong
// when any strong method located that same account.
//
// # Ambiguity
//
// From "Certificate Requirements and Enumeration" and the Windows 2000
// smart card paper:
//
//   - without a hint, two methods that locate different accounts are a
//     configuration error ([ErrAmbiguous], logged at error level);
//   - one certificate mapped to several accounts needs a hint naming one
//     of them ([ErrAmbiguous] without, [ErrNameMismatch] for an account it
//     does not map to);
//   - a certificate with a UPN never maps to several accounts, hint or not;
//   - several certificates may map to one account.
//
// A hint (the AS-REQ cname) is "user" (sAMAccountName), "DOMAIN\user", or
// "user@suffix" / an NT-ENTERPRISE name (userPrincipalName, falling back to
// sAMAccountName "user" when suffix is the realm).
//
// # Enforcement
//
// KB5014754's StrongCertificateBindingEnforcement, [Policy.Enforcement]:
// full (the zero value) refuses weak-only mappings ([ErrWeakMapping]);
// compatibility accepts one only when the certificate is not older than
// the account — notBefore at or after whenCreated less
// [Policy.BackdatingAllowance] — else [ErrCertPredatesAccount]; off accepts
// anything. Outside off mode a trusted SID extension that names another
// account than the one mapped is refused ([ErrSIDMismatch]), and a SID
// extension from a CA not in SIDTrustedCAs is ignored.
//
// # Account state
//
// A disabled (userAccountControl UF_ACCOUNTDISABLE) or expired
// (accountExpires) account is refused; UF_SMARTCARD_REQUIRED is reported.
// Group SIDs are collected through nested groups for the PAC.
//
// # Errors
//
// [ErrorCode] gives the KRB-ERROR code for each error; see its table.
package mapping
