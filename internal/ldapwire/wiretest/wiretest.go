// Package wiretest writes BER elements byte by byte, as LDAP servers do,
// for the tests of internal/ldapwire and its users: with the fewest length
// octets, or with every length in four octets as Active Directory writes
// them.
package wiretest

import "bytes"

// TLV is one element: tag, the length of parts joined, parts. With long
// set the length takes the four-octet long form whatever its size.
func TLV(long bool, tag byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	n := len(body)
	out := []byte{tag}
	switch {
	case long:
		out = append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	case n < 0x80:
		out = append(out, byte(n))
	default:
		var octets []byte
		for v := n; v > 0; v >>= 8 {
			octets = append([]byte{byte(v)}, octets...)
		}
		out = append(append(out, 0x80|byte(len(octets))), octets...)
	}
	return append(out, body...)
}
