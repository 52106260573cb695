#!/bin/sh
# Regenerates octetstring2key-openssl.txt: RFC 4556 §3.2.3.1 octetstring2key
# computed with openssl's SHA-1, independently of the Go code.
# Usage: sh gen-octetstring2key.sh > octetstring2key-openssl.txt
set -eu
echo "# RFC 4556 octetstring2key vectors computed by gen-octetstring2key.sh with openssl dgst -sha1"
echo "# secret client-nonce server-nonce enctype key (\"-\" = empty)"
kt() { # secret cnonce snonce etype seedlen
	x="$1$2$3"
	out=""
	i=0
	while [ $(( ${#out} / 2 )) -lt "$5" ]; do
		out="$out$(printf '%02x%s' "$i" "$x" | xxd -r -p | openssl dgst -sha1 -binary | xxd -p -c 100)"
		i=$((i + 1))
	done
	printf '%s %s %s %s %s\n' "${1:--}" "${2:--}" "${3:--}" "$4" "$(printf '%s' "$out" | cut -c1-$(( $5 * 2 )))"
}
s1="00$(openssl dgst -sha256 -binary </dev/null | xxd -p -c 100)$(printf 'ab%.0s' $(seq 1 95))"
kt "$s1" "" "" 18 32
kt "$s1" "" "" 17 16
kt "$s1" "0102030405060708" "a1a2a3a4a5a6a7a8a9" 18 32
kt "$s1" "0102030405060708" "a1a2a3a4a5a6a7a8a9" 20 32
kt "$s1" "0102030405060708" "a1a2a3a4a5a6a7a8a9" 19 16
kt "$s1" "" "" 23 16
kt "deadbeef" "" "" 18 32
