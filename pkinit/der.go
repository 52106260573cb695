package pkinit

import (
	"encoding/asn1"
	"errors"
)

var errTrailing = errors.New("trailing data")

// unmarshal decodes exactly one DER value into v: trailing bytes are an error.
func unmarshal(b []byte, v any, what string) error {
	rest, err := asn1.Unmarshal(b, v)
	if err != nil {
		return malformed(what, err)
	}
	if len(rest) != 0 {
		return malformed(what, errTrailing)
	}
	return nil
}

// marshal encodes v; it fails only on values no DER can carry (an invalid
// OID, a string outside its character set).
func marshal(v any, what string, params ...string) ([]byte, error) {
	var p string
	if len(params) > 0 {
		p = params[0]
	}
	b, err := asn1.MarshalWithParams(v, p)
	if err != nil {
		return nil, malformed(what, err)
	}
	return b, nil
}
