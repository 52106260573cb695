package ccache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The KCM protocol, as Heimdal's kcm and SSSD's sssd-kcm serve it and MIT's
// cc_kcm.c speaks it (MIT src/include/kcm.h). Over a Unix stream socket a
// request is a 4-byte big-endian length, then major version 2, minor 0, a
// 16-bit opcode and the arguments; a reply is a 4-byte length, a 4-byte IPC
// status (0), then that many bytes: a 32-bit com_err code and the payload.
// Names are NUL-terminated; principals and credentials are FILE format v4
// records; UUIDs are 16 bytes, and UUID lists run to the end of the payload.

// kcmOp is a KCM opcode.
type kcmOp uint16

const (
	kcmOpGenNew           kcmOp = 3     // () -> (name)
	kcmOpInitialize       kcmOp = 4     // (name, princ) -> ()
	kcmOpDestroy          kcmOp = 5     // (name) -> ()
	kcmOpStore            kcmOp = 6     // (name, cred) -> ()
	kcmOpGetPrincipal     kcmOp = 8     // (name) -> (princ)
	kcmOpGetCredUUIDList  kcmOp = 9     // (name) -> (uuid, ...)
	kcmOpGetCredByUUID    kcmOp = 10    // (name, uuid) -> (cred)
	kcmOpGetCacheUUIDList kcmOp = 18    // () -> (uuid, ...)
	kcmOpGetCacheByUUID   kcmOp = 19    // (uuid) -> (name)
	kcmOpGetDefaultCache  kcmOp = 20    // () -> (name)
	kcmOpSetDefaultCache  kcmOp = 21    // (name) -> ()
	kcmOpGetKDCOffset     kcmOp = 22    // (name) -> (offset)
	kcmOpSetKDCOffset     kcmOp = 23    // (name, offset) -> ()
	kcmOpGetCredList      kcmOp = 13001 // MIT extension: (name) -> (count, count*{len, cred})
	kcmOpReplace          kcmOp = 13002 // MIT extension: (name, offset, princ, count, count*{len, cred}) -> ()

	kcmVersionMajor = 2
	kcmVersionMinor = 0
	kcmUUIDLen      = 16
	// kcmMaxReply is MIT's bound on a reply (MAX_REPLY_SIZE).
	kcmMaxReply = 10 << 20
)

// DefaultKCMSocket is where MIT, Heimdal and SSSD meet unless [libdefaults]
// kcm_socket says otherwise.
const DefaultKCMSocket = "/var/run/.heim_org.h5l.kcm-socket"

// KCMError is a non-zero code from the KCM daemon: an MIT com_err code.
type KCMError struct{ Code int32 }

// com_err codes a KCM daemon answers with (MIT krb5_err.et).
const (
	kcmCodeCCNotFound   = -1765328243 // KRB5_CC_NOTFOUND
	kcmCodeCCEnd        = -1765328242 // KRB5_CC_END
	kcmCodeCCIO         = -1765328191 // KRB5_CC_IO: also sssd's "unknown operation"
	kcmCodeFCCNoFile    = -1765328189 // KRB5_FCC_NOFILE
	kcmCodeFCCInternal  = -1765328188 // KRB5_FCC_INTERNAL: Heimdal's "unknown operation"
	kcmCodeCCNotSupport = -1765328137 // KRB5_CC_NOSUPP
)

func (e *KCMError) Error() string {
	switch e.Code {
	case kcmCodeFCCNoFile:
		return "ccache: KCM: no credentials cache found"
	case kcmCodeCCEnd, kcmCodeCCNotFound:
		return "ccache: KCM: no such credential"
	case kcmCodeCCNotSupport, kcmCodeFCCInternal:
		return "ccache: KCM: the daemon does not support this operation"
	}
	return fmt.Sprintf("ccache: KCM: daemon error %d", e.Code)
}

// Is makes a missing cache match [ErrNotFound].
func (e *KCMError) Is(target error) bool {
	return target == ErrNotFound && (e.Code == kcmCodeFCCNoFile || e.Code == kcmCodeCCEnd)
}

// unsupported reports a code that can mean "unknown operation" (MIT's
// unsupported_op_error).
func (e *KCMError) unsupported() bool {
	return e.Code == kcmCodeFCCInternal || e.Code == kcmCodeCCIO || e.Code == kcmCodeCCNotSupport
}

// kcmRequest builds a request frame, length prefix included.
type kcmRequest struct{ buf []byte }

func newKCMRequest(op kcmOp) *kcmRequest {
	return &kcmRequest{buf: []byte{0, 0, 0, 0, kcmVersionMajor, kcmVersionMinor, byte(op >> 8), byte(op)}}
}

func (r *kcmRequest) name(s string) *kcmRequest { r.buf = append(append(r.buf, s...), 0); return r }
func (r *kcmRequest) raw(b []byte) *kcmRequest  { r.buf = append(r.buf, b...); return r }
func (r *kcmRequest) u32(v uint32) *kcmRequest {
	r.buf = binary.BigEndian.AppendUint32(r.buf, v)
	return r
}

func (r *kcmRequest) frame() []byte {
	binary.BigEndian.PutUint32(r.buf, uint32(len(r.buf)-4))
	return r.buf
}

var errKCMMalformed = errors.New("ccache: KCM: malformed reply")

// readKCMReply reads one reply frame and returns its payload, or the
// daemon's code as a *KCMError.
func readKCMReply(rd io.Reader) ([]byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(rd, hdr[:]); err != nil {
		return nil, fmt.Errorf("ccache: KCM: read reply: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n > kcmMaxReply {
		return nil, fmt.Errorf("ccache: KCM: reply of %d bytes is too large", n)
	}
	if status := int32(binary.BigEndian.Uint32(hdr[4:])); status != 0 {
		return nil, &KCMError{Code: status}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rd, body); err != nil {
		return nil, fmt.Errorf("ccache: KCM: read reply: %w", err)
	}
	if n < 4 {
		return nil, errKCMMalformed
	}
	if code := int32(binary.BigEndian.Uint32(body)); code != 0 {
		return nil, &KCMError{Code: code}
	}
	return body[4:], nil
}

// parseKCMName reads a NUL-terminated name that ends the payload.
func parseKCMName(p []byte) (string, error) {
	i := bytes.IndexByte(p, 0)
	if i < 0 || i != len(p)-1 {
		return "", errKCMMalformed
	}
	return string(p[:i]), nil
}

// parseKCMUUIDs splits a UUID list.
func parseKCMUUIDs(p []byte) ([][]byte, error) {
	if len(p)%kcmUUIDLen != 0 {
		return nil, errKCMMalformed
	}
	var out [][]byte
	for i := 0; i < len(p); i += kcmUUIDLen {
		out = append(out, p[i:i+kcmUUIDLen:i+kcmUUIDLen])
	}
	return out, nil
}

// parseKCMCredList decodes GET_CRED_LIST's count and length-prefixed records.
func parseKCMCredList(p []byte) ([]Credential, error) {
	r := reader{buf: p}
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(r.buf)/4) {
		return nil, errKCMMalformed
	}
	creds := make([]Credential, 0, n)
	for i := uint32(0); i < n; i++ {
		rec := r.take(int(r.u32()))
		if r.err != nil {
			return nil, errKCMMalformed
		}
		cr, err := parseCredential(rec)
		if err != nil {
			return nil, fmt.Errorf("ccache: KCM: credential %d: %w", i, err)
		}
		creds = append(creds, cr)
	}
	if err := r.end(); err != nil {
		return nil, errKCMMalformed
	}
	return creds, nil
}

// parseKCMPrincipal decodes GET_PRINCIPAL's principal record. Heimdal may
// answer an empty payload for an uninitialised cache; one trailing NUL is
// tolerated, as MIT's reader ignores what follows the record.
func parseKCMPrincipal(p []byte) (Principal, error) {
	if len(p) == 0 {
		return Principal{}, &KCMError{Code: kcmCodeFCCNoFile}
	}
	if pr, err := parsePrincipal(p); err == nil {
		return pr, nil
	}
	q, ok := bytes.CutSuffix(p, []byte{0})
	if !ok {
		return parsePrincipal(p)
	}
	return parsePrincipal(q)
}

// parseKCMOffset decodes GET_KDC_OFFSET's int32 seconds.
func parseKCMOffset(p []byte) (int32, error) {
	if len(p) != 4 {
		return 0, errKCMMalformed
	}
	return int32(binary.BigEndian.Uint32(p)), nil
}
