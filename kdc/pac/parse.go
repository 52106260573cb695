package pac

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sclogon/sclogon/certs"
)

// PAC is a parsed PACTYPE. Its buffers point into a private copy of the
// bytes parsed, which signatures are checked over.
type PAC struct {
	Buffers []Buffer // in PAC_INFO_BUFFER order
	raw     []byte
	offs    []int
}

// Parse reads the PACTYPE framing ([MS-PAC] §2.3, §2.4). It checks no
// signature. It rejects a version other than 0, more buffers than the
// bytes can describe, buffers that are empty, misaligned, overlapping, or
// past the end, gaps beyond 8-byte padding, bytes after the last buffer's
// padding, and two buffers of one type.
func Parse(b []byte) (*PAC, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: PACTYPE is %d bytes, shorter than 8", ErrMalformed, len(b))
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if v := binary.LittleEndian.Uint32(b[4:]); v != 0 {
		return nil, fmt.Errorf("%w: PACTYPE version %d, want 0", ErrMalformed, v)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: PACTYPE has no buffers", ErrMalformed)
	}
	if n > uint64(len(b)-8)/16 {
		return nil, fmt.Errorf("%w: PACTYPE claims %d buffers, %d bytes hold at most %d", ErrMalformed, n, len(b), (len(b)-8)/16)
	}
	raw := slices.Clone(b)
	hdrEnd := 8 + 16*int(n)
	p := &PAC{Buffers: make([]Buffer, n), raw: raw, offs: make([]int, n)}
	seen := make(map[BufferType]bool, n)
	for i := range p.Buffers {
		h := raw[8+16*i:]
		t := BufferType(binary.LittleEndian.Uint32(h))
		size := uint64(binary.LittleEndian.Uint32(h[4:]))
		off := binary.LittleEndian.Uint64(h[8:])
		switch {
		case seen[t]:
			return nil, fmt.Errorf("%w: two buffers of type %d", ErrMalformed, t)
		case size == 0:
			return nil, fmt.Errorf("%w: buffer %d (type %d) is empty", ErrMalformed, i, t)
		case off%8 != 0:
			return nil, fmt.Errorf("%w: buffer %d (type %d) at offset %d is not 8-byte aligned", ErrMalformed, i, t, off)
		case off < uint64(hdrEnd):
			return nil, fmt.Errorf("%w: buffer %d (type %d) at offset %d overlaps the header", ErrMalformed, i, t, off)
		case off > uint64(len(raw)) || size > uint64(len(raw))-off:
			return nil, fmt.Errorf("%w: buffer %d (type %d) at %d+%d runs past the %d-byte PAC", ErrMalformed, i, t, off, size, len(raw))
		}
		seen[t] = true
		p.Buffers[i] = Buffer{Type: t, Data: raw[off : off+size : off+size]}
		p.offs[i] = int(off)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return p.offs[a] - p.offs[b] })
	end := hdrEnd
	for _, i := range order {
		if p.offs[i] < end {
			return nil, fmt.Errorf("%w: buffer %d (type %d) overlaps the one before it", ErrMalformed, i, p.Buffers[i].Type)
		}
		if p.offs[i] > align8(end) {
			return nil, fmt.Errorf("%w: %d unaccounted bytes before buffer %d (type %d)", ErrMalformed, p.offs[i]-end, i, p.Buffers[i].Type)
		}
		end = p.offs[i] + len(p.Buffers[i].Data)
	}
	if len(raw) > align8(end) {
		return nil, fmt.Errorf("%w: %d bytes after the last buffer", ErrMalformed, len(raw)-align8(end))
	}
	return p, nil
}

// Buffer returns the data of the buffer of type t.
func (p *PAC) Buffer(t BufferType) ([]byte, bool) {
	i := p.index(t)
	if i < 0 {
		return nil, false
	}
	return p.Buffers[i].Data, true
}

func (p *PAC) index(t BufferType) int {
	for i, x := range p.Buffers {
		if x.Type == t {
			return i
		}
	}
	return -1
}

// signature returns the checksum type, the Signature bytes and their
// offset in raw of the signature buffer of type t ([MS-PAC] §2.8).
func (p *PAC) signature(t BufferType) (int32, []byte, int, error) {
	i := p.index(t)
	if i < 0 {
		return 0, nil, 0, fmt.Errorf("%w: no signature buffer of type %d", ErrSignature, t)
	}
	d := p.Buffers[i].Data
	if len(d) < 4 {
		return 0, nil, 0, fmt.Errorf("%w: signature buffer of type %d is %d bytes", ErrMalformed, t, len(d))
	}
	ct := int32(binary.LittleEndian.Uint32(d))
	n, ok := signatureLen(ct)
	if !ok {
		return 0, nil, 0, fmt.Errorf("%w: checksum type %d in signature buffer of type %d", ErrUnsupported, ct, t)
	}
	// An RODC appends a 2-byte RODCIdentifier.
	if len(d) != 4+n && len(d) != 4+n+2 {
		return 0, nil, 0, fmt.Errorf("%w: signature buffer of type %d is %d bytes for checksum type %d", ErrMalformed, t, len(d), ct)
	}
	return ct, d[4 : 4+n], p.offs[i] + 4, nil
}

// VerifyServer checks the server signature with the key of the ticket's
// service (the krbtgt key for a TGT).
func (p *PAC) VerifyServer(key Key) error {
	st, ssig, soff, err := p.signature(TypeServerChecksum)
	if err != nil {
		return err
	}
	_, ksig, koff, err := p.signature(TypePrivSvrChecksum)
	if err != nil {
		return err
	}
	z := slices.Clone(p.raw)
	clear(z[soff : soff+len(ssig)])
	clear(z[koff : koff+len(ksig)])
	if err := key.verify(st, z, ssig); err != nil {
		return fmt.Errorf("server signature: %w", err)
	}
	return nil
}

// VerifyKDC checks the KDC signature with the krbtgt key. It says nothing
// about the buffers unless the server signature is checked too.
func (p *PAC) VerifyKDC(key Key) error {
	_, ssig, _, err := p.signature(TypeServerChecksum)
	if err != nil {
		return err
	}
	kt, ksig, _, err := p.signature(TypePrivSvrChecksum)
	if err != nil {
		return err
	}
	if err := key.verify(kt, ssig, ksig); err != nil {
		return fmt.Errorf("KDC signature: %w", err)
	}
	return nil
}

// Verify parses pacBytes and checks the server signature with serverKey
// and, when kdcKey is not nil, the KDC signature with *kdcKey.
func Verify(pacBytes []byte, serverKey Key, kdcKey *Key) (*PAC, error) {
	p, err := Parse(pacBytes)
	if err != nil {
		return nil, err
	}
	if err := p.VerifyServer(serverKey); err != nil {
		return nil, err
	}
	if kdcKey != nil {
		if err := p.VerifyKDC(*kdcKey); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Resign is what a TGS does with the PAC of a TGT: it verifies both
// signatures with the krbtgt key kdcKey (a TGT's server is krbtgt, and
// only the server signature covers the buffers), then returns the same
// buffers, in the same order, signed for serviceKey and kdcKey.
func Resign(pacBytes []byte, kdcKey, serviceKey Key) ([]byte, error) {
	return ResignRolled(pacBytes, kdcKey, kdcKey, serviceKey)
}

// ResignRolled is [Resign] across a krbtgt key rollover: the TGT's PAC is
// verified with tgtKey, the krbtgt key version the TGT was issued under,
// and signed anew with kdcKey, the current one.
func ResignRolled(pacBytes []byte, tgtKey, kdcKey, serviceKey Key) ([]byte, error) {
	p, err := Verify(pacBytes, tgtKey, &tgtKey)
	if err != nil {
		return nil, err
	}
	return sign(p.Buffers, serviceKey, kdcKey)
}

// ClientInfo decodes PAC_CLIENT_INFO.
func (p *PAC) ClientInfo() (ClientInfo, error) {
	d, ok := p.Buffer(TypeClientInfo)
	if !ok {
		return ClientInfo{}, fmt.Errorf("%w: no PAC_CLIENT_INFO", ErrMalformed)
	}
	return parseClientInfo(d)
}

// UPNDNSInfo decodes UPN_DNS_INFO; ok is false when there is none.
func (p *PAC) UPNDNSInfo() (u UPNDNSInfo, ok bool, err error) {
	d, ok := p.Buffer(TypeUPNDNSInfo)
	if !ok {
		return UPNDNSInfo{}, false, nil
	}
	u, err = parseUPNDNSInfo(d)
	return u, err == nil, err
}

// Requestor decodes PAC_REQUESTOR; ok is false when there is none.
func (p *PAC) Requestor() (sid certs.SID, ok bool, err error) {
	d, ok := p.Buffer(TypeRequestor)
	if !ok {
		return certs.SID{}, false, nil
	}
	sid, err = certs.UnmarshalSID(d)
	if err != nil {
		return certs.SID{}, false, fmt.Errorf("%w: PAC_REQUESTOR: %w", ErrMalformed, err)
	}
	return sid, true, nil
}

// Attributes decodes PAC_ATTRIBUTES_INFO; ok is false when there is none.
func (p *PAC) Attributes() (a Attributes, ok bool, err error) {
	d, ok := p.Buffer(TypeAttributesInfo)
	if !ok {
		return 0, false, nil
	}
	a, err = parseAttributes(d)
	return a, err == nil, err
}
