package pac

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sclogon/sclogon/certs"
)

// Errors callers branch on; every error from this package wraps one of
// them or describes invalid [Info].
var (
	// ErrMalformed: the bytes are not a well-formed PAC or PAC buffer.
	ErrMalformed = errors.New("pac: malformed")
	// ErrSignature: a signature is missing or does not verify.
	ErrSignature = errors.New("pac: signature invalid")
	// ErrUnsupported: an encryption or checksum type this package cannot use.
	ErrUnsupported = errors.New("pac: unsupported")
)

// BufferType is the ulType of a PAC_INFO_BUFFER ([MS-PAC] §2.4).
type BufferType uint32

// Buffer types written or read by this package ([MS-PAC] §2.4).
const (
	TypeLogonInfo       BufferType = 1  // PAC_LOGON_INFO, KERB_VALIDATION_INFO, §2.5
	TypeServerChecksum  BufferType = 6  // server signature, §2.8
	TypePrivSvrChecksum BufferType = 7  // KDC (privilege server) signature, §2.8
	TypeClientInfo      BufferType = 10 // PAC_CLIENT_INFO, §2.7
	TypeUPNDNSInfo      BufferType = 12 // UPN_DNS_INFO, §2.10
	TypeAttributesInfo  BufferType = 17 // PAC_ATTRIBUTES_INFO, §2.14
	TypeRequestor       BufferType = 18 // PAC_REQUESTOR, §2.15
)

// Buffer is one PAC_INFO_BUFFER and the bytes it points at.
type Buffer struct {
	Type BufferType
	Data []byte
}

// Info is what the KDC knows about the client when it issues a PAC. Times
// are the caller's: the package reads no clock.
type Info struct {
	// KERB_VALIDATION_INFO ([MS-PAC] §2.5).
	LogonTime       time.Time
	PasswordLastSet time.Time // zero: never set
	Account         string    // sAMAccountName, the EffectiveName
	FullName        string    // displayName; may be empty
	LogonServer     string    // NetBIOS name of the DC; may be empty
	NetBIOSDomain   string    // LogonDomainName
	DomainSID       certs.SID // LogonDomainId
	UserRID         uint32    // the user SID is DomainSID-UserRID
	PrimaryGroupRID uint32    // 513, Domain Users, for most accounts
	// GroupRIDs are the account-domain groups, each written with
	// GroupAttributes. AD lists the primary group here too.
	GroupRIDs []uint32
	// ExtraSIDs are SIDs outside the account domain (other domains,
	// S-1-18-1 for an authentication-authority-asserted identity), each
	// with GroupAttributes; they set LOGON_EXTRA_SIDS in UserFlags.
	ExtraSIDs []certs.SID
	// UserAccountControl is the SAM form ([MS-SAMR] §2.2.1.12, e.g.
	// USER_NORMAL_ACCOUNT 0x10), not LDAP's userAccountControl.
	UserAccountControl uint32

	// PAC_CLIENT_INFO ([MS-PAC] §2.7): the ticket's client name (without
	// realm) and authtime.
	ClientName string
	AuthTime   time.Time

	// UPN_DNS_INFO ([MS-PAC] §2.10). An empty UPN writes the constructed
	// Account@DNSDomain with the U flag, as AD does for accounts without
	// userPrincipalName.
	UPN       string
	DNSDomain string

	// RequestorSID, when set, is written as PAC_REQUESTOR ([MS-PAC]
	// §2.15); for a TGT it is the user SID.
	RequestorSID certs.SID
	// Attributes, when not zero, is written as PAC_ATTRIBUTES_INFO
	// ([MS-PAC] §2.14).
	Attributes Attributes
}

// UserSID returns DomainSID with UserRID appended.
func (info *Info) UserSID() (certs.SID, error) {
	s, err := certs.NewSID(info.DomainSID.Authority(), append(info.DomainSID.SubAuthorities(), info.UserRID)...)
	if err != nil {
		return certs.SID{}, fmt.Errorf("pac: user SID: %w", err)
	}
	return s, nil
}

func (info *Info) check() error {
	switch {
	case info.Account == "":
		return errors.New("pac: Account is empty")
	case info.ClientName == "":
		return errors.New("pac: ClientName is empty")
	case info.DNSDomain == "":
		return errors.New("pac: DNSDomain is empty")
	case info.AuthTime.IsZero():
		return errors.New("pac: AuthTime is not set")
	case info.UserRID == 0:
		return errors.New("pac: UserRID is 0")
	}
	if err := validSID("DomainSID", info.DomainSID); err != nil {
		return err
	}
	for i, s := range info.ExtraSIDs {
		if err := validSID(fmt.Sprintf("ExtraSIDs[%d]", i), s); err != nil {
			return err
		}
	}
	return nil
}

// Build returns a signed PAC for info: the server signature with
// serverKey (the krbtgt key for a TGT, the service key for a service
// ticket), the KDC signature with kdcKey (the krbtgt key).
func Build(info Info, serverKey, kdcKey Key) ([]byte, error) {
	if err := info.check(); err != nil {
		return nil, err
	}
	userSID, err := info.UserSID()
	if err != nil {
		return nil, err
	}
	logon, err := marshalLogonInfo(&info)
	if err != nil {
		return nil, err
	}
	client, err := marshalClientInfo(info.AuthTime, info.ClientName)
	if err != nil {
		return nil, err
	}
	u := UPNDNSInfo{UPN: info.UPN, DNSDomain: info.DNSDomain, SamName: info.Account, SID: userSID}
	if u.UPN == "" {
		u.UPN, u.Constructed = info.Account+"@"+info.DNSDomain, true
	}
	upn, err := marshalUPNDNSInfo(u)
	if err != nil {
		return nil, err
	}
	bufs := make([]Buffer, 0, 7)
	bufs = append(bufs,
		Buffer{TypeLogonInfo, logon},
		Buffer{TypeClientInfo, client},
		Buffer{TypeUPNDNSInfo, upn})
	if info.Attributes != 0 {
		bufs = append(bufs, Buffer{TypeAttributesInfo, marshalAttributes(info.Attributes)})
	}
	if !info.RequestorSID.IsZero() {
		bufs = append(bufs, Buffer{TypeRequestor, info.RequestorSID.Marshal()})
	}
	bufs = append(bufs, Buffer{Type: TypeServerChecksum}, Buffer{Type: TypePrivSvrChecksum})
	return sign(bufs, serverKey, kdcKey)
}

// sign lays bufs out, replacing the data of the two signature buffers by
// zeroed signatures of serverKey's and kdcKey's checksum types, then
// computes the server signature and the KDC signature over it.
func sign(bufs []Buffer, serverKey, kdcKey Key) ([]byte, error) {
	st, sn, err := serverKey.checksumType()
	if err != nil {
		return nil, fmt.Errorf("pac: server key: %w", err)
	}
	kt, kn, err := kdcKey.checksumType()
	if err != nil {
		return nil, fmt.Errorf("pac: KDC key: %w", err)
	}
	out := make([]Buffer, len(bufs))
	copy(out, bufs)
	si, ki := -1, -1
	for i := range out {
		switch out[i].Type {
		case TypeServerChecksum:
			si = i
			out[i].Data = sigBuffer(st, sn)
		case TypePrivSvrChecksum:
			ki = i
			out[i].Data = sigBuffer(kt, kn)
		}
	}
	if si < 0 || ki < 0 {
		return nil, fmt.Errorf("%w: PAC lacks a signature buffer", ErrMalformed)
	}
	b, offs, err := layout(out)
	if err != nil {
		return nil, err
	}
	// Both Signature fields are zero now, as the server checksum wants.
	ssig, err := serverKey.checksum(b)
	if err != nil {
		return nil, err
	}
	copy(b[offs[si]+4:], ssig)
	ksig, err := kdcKey.checksum(ssig)
	if err != nil {
		return nil, err
	}
	copy(b[offs[ki]+4:], ksig)
	return b, nil
}

func sigBuffer(t int32, n int) []byte {
	b := make([]byte, 4+n)
	binary.LittleEndian.PutUint32(b, uint32(t))
	return b
}

// layout writes the PACTYPE ([MS-PAC] §2.3): cBuffers, Version 0, the
// PAC_INFO_BUFFER array, then each buffer at an 8-byte aligned offset,
// zero-padded to 8 bytes. It returns the offsets.
func layout(bufs []Buffer) ([]byte, []int, error) {
	size := 8 + 16*len(bufs)
	for _, x := range bufs {
		if len(x.Data) == 0 || uint64(len(x.Data)) > 0xFFFFFFFF {
			return nil, nil, fmt.Errorf("%w: buffer of type %d is %d bytes", ErrMalformed, x.Type, len(x.Data))
		}
		size += align8(len(x.Data))
	}
	b := make([]byte, 8+16*len(bufs), size)
	binary.LittleEndian.PutUint32(b, uint32(len(bufs)))
	offs := make([]int, len(bufs))
	for i, x := range bufs {
		offs[i] = len(b)
		h := b[8+16*i:]
		binary.LittleEndian.PutUint32(h, uint32(x.Type))
		binary.LittleEndian.PutUint32(h[4:], uint32(len(x.Data)))
		binary.LittleEndian.PutUint64(h[8:], uint64(len(b)))
		b = append(b, x.Data...)
		b = append(b, make([]byte, align8(len(x.Data))-len(x.Data))...)
	}
	return b, offs, nil
}

func align8(n int) int { return (n + 7) &^ 7 }
