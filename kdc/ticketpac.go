package kdc

import (
	"fmt"
	"strings"

	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/kdc/pac"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/mapping"
)

// buildPAC makes an initial ticket's PAC, signed with the ticket's server
// key and the krbtgt key.
func (k *KDC) buildPAC(acct mapping.Account, spec ticketSpec, serverKey Key) (types.AuthorizationData, error) {
	domainSID, rid, ok := splitSID(acct.SID)
	if !ok {
		return nil, reject(krberror.CPrincipalUnknown, nil, "account %s has no usable objectSid for the PAC", acct.DN)
	}
	info := pac.Info{
		LogonTime:          spec.AuthTime,
		Account:            acct.SAMAccountName,
		NetBIOSDomain:      netbiosName(k.realm),
		DomainSID:          domainSID,
		UserRID:            rid,
		PrimaryGroupRID:    513,  // Domain Users
		UserAccountControl: 0x10, // USER_NORMAL_ACCOUNT
		ClientName:         strings.Join(spec.Client.NameString, "/"),
		AuthTime:           spec.AuthTime,
		UPN:                acct.UPN,
		DNSDomain:          strings.ToLower(k.realm),
		RequestorSID:       acct.SID,
		Attributes:         pac.PACWasRequested,
	}
	if d, r, ok := splitSID(acct.PrimaryGroupSID); ok && d.String() == domainSID.String() {
		info.PrimaryGroupRID = r
	}
	info.GroupRIDs = append(info.GroupRIDs, info.PrimaryGroupRID)
	for _, g := range acct.GroupSIDs {
		if d, r, ok := splitSID(g); ok && d.String() == domainSID.String() {
			info.GroupRIDs = append(info.GroupRIDs, r)
		} else {
			info.ExtraSIDs = append(info.ExtraSIDs, g)
		}
	}
	srvKey, kdcKey, err := k.pacKeys(serverKey)
	if err != nil {
		return nil, err
	}
	b, err := pac.Build(info, srvKey, kdcKey)
	if err != nil {
		return nil, fmt.Errorf("kdc: build PAC: %w", err)
	}
	return pac.AuthorizationData(b)
}

// netbiosName is the realm's first label, upper-case, as AD's default.
func netbiosName(realm string) string {
	label, _, _ := strings.Cut(realm, ".")
	if len(label) > 15 {
		label = label[:15]
	}
	return strings.ToUpper(label)
}

// resignPAC carries the PAC of a presented ticket into a ticket for server:
// its KDC signature checked, so a client cannot forge its own PAC, and both
// signatures made anew for the new server. A ticket without a PAC gives none.
// tgtKey is the krbtgt key a presented TGT was issued under (nil: the
// current one); after a rollover its PAC was signed with an older version.
func (k *KDC) resignPAC(from types.AuthorizationData, tgtKey *Key, server Key) (types.AuthorizationData, error) {
	pacBytes, found, err := pac.FromAuthorizationData(from)
	if err != nil {
		return nil, reject(krberror.APModified, err, "malformed PAC in the ticket")
	}
	if !found {
		return nil, nil
	}
	srvKey, kdcKey, err := k.pacKeys(server)
	if err != nil {
		return nil, err
	}
	checkKey := kdcKey
	if tgtKey != nil {
		if checkKey, err = tgtKey.pacKey(); err != nil {
			return nil, fmt.Errorf("kdc: PAC key of %s: %w", k.krbtgt, err)
		}
	}
	resigned, err := pac.ResignRolled(pacBytes, checkKey, kdcKey, srvKey)
	if err != nil {
		return nil, reject(krberror.APModified, err, "PAC signature does not verify")
	}
	return pac.AuthorizationData(resigned)
}

// pacKeys are the two keys that sign a PAC ([MS-PAC] §2.8): the ticket's
// server key for the server signature, the krbtgt key for the KDC
// signature, which only the KDC can make or check.
func (k *KDC) pacKeys(server Key) (serverKey, kdcKey pac.Key, err error) {
	krbtgt, ok := k.keys.Key(k.krbtgt, 0)
	if !ok {
		return pac.Key{}, pac.Key{}, fmt.Errorf("kdc: no key for %s to sign the PAC", k.krbtgt)
	}
	if kdcKey, err = krbtgt.pacKey(); err != nil {
		return pac.Key{}, pac.Key{}, fmt.Errorf("kdc: PAC key of %s: %w", k.krbtgt, err)
	}
	if serverKey, err = server.pacKey(); err != nil {
		return pac.Key{}, pac.Key{}, fmt.Errorf("kdc: PAC key of the ticket's server: %w", err)
	}
	return serverKey, kdcKey, nil
}
