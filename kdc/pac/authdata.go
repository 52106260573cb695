package pac

import (
	"encoding/asn1"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/internal/der"
)

// Authorization-data types ([RFC 4120] §7.5.4, [MS-KILE] §3.1.5.5).
const (
	adIfRelevant int32 = 1   // AD-IF-RELEVANT, RFC 4120 §5.2.6.1
	adWin2kPAC   int32 = 128 // AD-WIN2K-PAC, MS-KILE
)

// adEntry mirrors AuthorizationData's element for encoding/asn1 ([RFC 4120]
// §5.2.6).
type adEntry struct {
	ADType int32  `asn1:"explicit,tag:0"`
	ADData []byte `asn1:"explicit,tag:1"`
}

// AuthorizationData wraps a PAC as a ticket carries it: one AD-IF-RELEVANT
// element whose data is an AuthorizationData holding one AD-WIN2K-PAC.
//
// The inner AuthorizationData is written by hand (internal/der): it is on
// every ticket, and encoding/asn1's reflection cost more than the rest of
// the wrapping (TestAuthorizationDataMatchesEncodingASN1).
func AuthorizationData(pac []byte) (types.AuthorizationData, error) {
	b := der.NewBuilder(make([]byte, 0, 24+len(pac)))
	b.Open(der.Sequence)
	b.Open(der.Sequence)
	b.Open(der.Explicit(0))
	b.AddInt64(int64(adWin2kPAC))
	b.Close()
	b.Open(der.Explicit(1))
	b.Add(der.OctetString, pac)
	b.Close()
	b.Close()
	b.Close()
	inner, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("pac: encoding AD-IF-RELEVANT: %w", err)
	}
	return types.AuthorizationData{{ADType: adIfRelevant, ADData: inner}}, nil
}

// FromAuthorizationData returns the PAC of a ticket's authorization-data:
// the AD-WIN2K-PAC inside an AD-IF-RELEVANT element. ok is false when
// there is none; two PACs are malformed.
func FromAuthorizationData(ad types.AuthorizationData) (pac []byte, ok bool, err error) {
	for _, e := range ad {
		if e.ADType != adIfRelevant {
			continue
		}
		var inner []adEntry
		rest, err := asn1.Unmarshal(e.ADData, &inner)
		if err != nil {
			return nil, false, fmt.Errorf("%w: AD-IF-RELEVANT: %w", ErrMalformed, err)
		}
		if len(rest) > 0 {
			return nil, false, fmt.Errorf("%w: %d bytes after AD-IF-RELEVANT", ErrMalformed, len(rest))
		}
		for _, x := range inner {
			if x.ADType != adWin2kPAC {
				continue
			}
			if ok {
				return nil, false, fmt.Errorf("%w: two AD-WIN2K-PAC elements", ErrMalformed)
			}
			pac, ok = x.ADData, true
		}
	}
	return pac, ok, nil
}
