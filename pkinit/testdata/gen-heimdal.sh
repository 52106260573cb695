#!/bin/sh
# Regenerates the heimdal-7.8-* vectors: CMS as Heimdal 7.8's hx509 encodes it
# (Debian 12's libhx509-5-heimdal, the library Heimdal's KDC and kinit use),
# and two AS-REQs from Heimdal's kinit, recorded once and replayed offline by
# heimdal_test.go.
#
# Usage: sh gen-heimdal.sh [HEIMDAL_ROOT]   (run in this directory)
# HEIMDAL_ROOT holds usr/bin/hxtool and usr/bin/kinit.heimdal, unpacked from
# heimdal-clients with dpkg-deb -x (default /usr/local/lib/sclogon/heimdal).
# Needs openssl and python3 (a one-connection TCP listener for the AS-REQ).
#
# What hx509 does that a DER-only parser rejects: it writes a
# subjectKeyIdentifier SignerIdentifier or RecipientIdentifier as a
# constructed [0] around an OCTET STRING (a0 16 04 14 ...), and SignerInfo
# version 1 with it. Its digest and signature algorithms are chosen apart
# (hx509_crypto_select): the digest from the peer's supportedCMSTypes digest
# OIDs, else the key's default (SHA-512 for RSA), the signature from its
# signature OIDs; a KDC whose client sent no supportedCMSTypes assumes
# des-ede3-cbc, sha1WithRSAEncryption and id-sha1 (kdc/pkinit.c).
set -eu
root=${1:-/usr/local/lib/sclogon/heimdal}
hx=$root/usr/bin/hxtool
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Self-signed RSA identities with a subject key identifier; hx509 reads
# only PKCS #1 ("RSA PRIVATE KEY") keys from FILE: stores.
for n in client kdc; do
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/$n.p8" -out heimdal-7.8-$n.pem \
		-subj "/O=sclogon test vectors/CN=heimdal-7.8 $n" -days 36500 -set_serial "0x$(openssl rand -hex 8)" \
		-addext subjectKeyIdentifier=hash -addext keyUsage=critical,digitalSignature,keyEncipherment \
		-addext basicConstraints=critical,CA:FALSE 2>/dev/null
	openssl rsa -in "$tmp/$n.p8" -traditional -out "$tmp/$n.key" 2>/dev/null
	cat heimdal-7.8-$n.pem "$tmp/$n.key" >"$tmp/$n-hx.pem"
done
cp "$tmp/client.key" heimdal-7.8-client.key # a test key: the client opens encKeyPack with it

# KDCDHKeyInfo { subjectPublicKey: a P-256 point, nonce 0x12345678 }, and
# ReplyKeyPack { aes256-cts key 42...42, asChecksum hmac-sha1-96-aes256 over
# the AS-REQ 6a 03 02 01 05 } (testASReq in exchange_test.go), made with this package.
printf '%s' 304ea04403420004f27e312d55aa491a380b83790ae9b69387a5efa8c6ce766a15271b5e12bbe8f5a15aa9bd9dfdf530daa663e108f40db66706a3a1972e5c5187d9a8c8cdb6e0f1a106020412345678 | xxd -r -p >"$tmp/kdcdhkeyinfo"
printf '%s' 3046a02b3029a003020112a12204204242424242424242424242424242424242424242424242424242424242424242a1173015a003020110a10e040cd83ecbca2134baa8a5dc1bd9 | xxd -r -p >"$tmp/replykeypack"

dhkeydata=1.3.6.1.5.2.3.2
rkeydata=1.3.6.1.5.2.3.3
sign() { # out peer-alg... : sign KDCDHKeyInfo as the KDC would for a client offering these
	out=$1
	shift
	"$hx" cms-create-sd --certificate="FILE:$tmp/kdc-hx.pem" --content-info --content-type=$dhkeydata "$@" "$tmp/kdcdhkeyinfo" "$out"
}
# sclogon's supportedCMSTypes (pkinit.SupportedCMSTypes): SHA-512 digest, sha512WithRSAEncryption.
sign heimdal-7.8-kdc-dhkeydata-sha512.der \
	--peer-alg=1.2.840.10045.4.3.4 --peer-alg=1.2.840.10045.4.3.3 --peer-alg=1.2.840.10045.4.3.2 \
	--peer-alg=1.2.840.113549.1.1.13 --peer-alg=1.2.840.113549.1.1.12 --peer-alg=1.2.840.113549.1.1.11
# No supportedCMSTypes: the KDC's old-client assumption, so SHA-1 throughout.
sign heimdal-7.8-kdc-dhkeydata-sha1.der --peer-alg=1.2.840.113549.3.7 --peer-alg=1.2.840.113549.1.1.5 --peer-alg=1.3.14.3.2.26
# Only sha256WithRSAEncryption: digest SHA-512 (the key's default), signature over SHA-256.
sign heimdal-7.8-kdc-dhkeydata-mixed.der --peer-alg=1.2.840.113549.1.1.11
# The signer by issuer and serial number (--id-by-name) instead.
sign heimdal-7.8-kdc-dhkeydata-by-name.der --id-by-name

# encKeyPack as Heimdal's KDC builds it (pk_mk_pa_reply_enckey): a bare
# SignedData over the ReplyKeyPack, enveloped for the client's certificate.
"$hx" cms-create-sd --certificate="FILE:$tmp/kdc-hx.pem" --content-type=$rkeydata \
	--peer-alg=1.2.840.113549.1.1.13 "$tmp/replykeypack" "$tmp/signed"
"$hx" cms-envelope --certificate=FILE:heimdal-7.8-client.pem --content-info --content-type=1.2.840.113549.1.7.2 \
	"$tmp/signed" heimdal-7.8-kdc-enckeypack.der

# Heimdal's kinit sends PA-PK-AS-REQ in its first AS-REQ: catch it.
catch() { # out kinit-flags...
	out=$1
	shift
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	printf '[libdefaults]\n\tdefault_realm = EXAMPLE.COM\n\tpkinit_dh_min_bits = 1536\n[realms]\n\tEXAMPLE.COM = {\n\t\tkdc = tcp/127.0.0.1:%s\n\t}\n' "$port" >"$tmp/krb5.conf"
	python3 -c '
import socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(20)
c, _ = s.accept()
f = c.makefile("rb")
n = struct.unpack(">I", f.read(4))[0]
open(sys.argv[2], "wb").write(f.read(n))
' "$port" "$out" &
	sleep 1
	KRB5_CONFIG=$tmp/krb5.conf "$root/usr/bin/kinit.heimdal" -C "FILE:$tmp/client-hx.pem" \
		-D FILE:heimdal-7.8-kdc.pem -c "FILE:$tmp/cc" "$@" alice@EXAMPLE.COM </dev/null >/dev/null 2>&1 || true
	wait
}
catch heimdal-7.8-kinit-as-req-dh.der
catch heimdal-7.8-kinit-as-req-rsa.der --pk-use-enckey
