package kdc

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pkinit"
)

// Key usage of the KDC's freshness tokens: private to this KDC, the number
// MIT's KDC uses for the same purpose.
const keyUsageFreshness = 514

// freshnessLifetime is how long a freshness token is accepted.
const freshnessLifetime = 10 * time.Minute

// methodData is the e-data of KDC_ERR_PREAUTH_REQUIRED: PKINIT offered, with
// a freshness token unless they are off.
func (k *KDC) methodData(now time.Time) []byte {
	seq := types.PADataSequence{{PADataType: int32(pkinit.PAPKASReq), PADataValue: []byte{}}}
	if k.cfg.Freshness != FreshnessOff {
		if tok, err := k.freshnessToken(now); err == nil {
			seq = append(seq, types.PAData{PADataType: int32(pkinit.PAASFreshness), PADataValue: tok})
		}
	}
	b, err := marshalMethodData(seq)
	if err != nil {
		return nil
	}
	return b
}

// freshnessToken is opaque to the client (RFC 8070 §4): the issue time,
// encrypted and integrity-protected with the krbtgt key.
func (k *KDC) freshnessToken(now time.Time) ([]byte, error) {
	key, _ := k.keys.Key(k.krbtgt, 0)
	ts := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	ed, err := key.encrypt(ts, keyUsageFreshness)
	if err != nil {
		return nil, err
	}
	return marshalEncryptedData(ed)
}

func (k *KDC) checkFreshness(token []byte, now time.Time) error {
	if len(token) == 0 {
		if k.cfg.Freshness == FreshnessRequired {
			r := reject(krberror.PreauthFailed, nil, "freshness token required")
			r.edata = k.methodData(now)
			return r
		}
		return nil
	}
	if k.cfg.Freshness == FreshnessOff {
		return nil // none was issued; MIT clients send none either
	}
	expired := func(reason string, err error) error {
		r := reject(krberror.PreauthExpired, err, "%s", reason)
		r.edata = k.methodData(now)
		return r
	}
	var ed types.EncryptedData
	if err := ed.Unmarshal(token); err != nil {
		return expired("malformed freshness token", err)
	}
	key, ok := k.keys.KeyVersion(k.krbtgt, ed.EType, uint32(ed.KVNO)) // a token from before a rollover too
	if !ok {
		return expired("freshness token under an unknown key", nil)
	}
	plain, err := key.decrypt(ed, keyUsageFreshness)
	if err != nil || len(plain) != 8 {
		return expired("freshness token does not decrypt", err)
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(plain)))
	if now.Sub(issued) > freshnessLifetime || issued.Sub(now) > k.skew {
		return expired(fmt.Sprintf("freshness token issued %s, outside its lifetime", issued.UTC().Format(time.RFC3339)), nil)
	}
	return nil
}
