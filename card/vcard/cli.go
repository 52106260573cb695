package vcard

import (
	"bufio"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// Help is the text of `sclogon help vcard`.
const Help = `usage: sclogon vcard [--state FILE] [--connect ADDR] [--generic] [--trace]
       sclogon vcard init --state FILE [--slot SLOT --cert CERT.pem --key KEY.pem]...
                          [--slot SLOT --generate ALG]... [--pin-policy once|always|never]...
                          [--global-pin PIN [--global-primary]] [--secrets-stdin] [--force]

Runs a software PIV card (NIST SP 800-73-4, with the YubiKey extensions
piv-go needs) and inserts it into pcscd's virtual reader (vsmartcard vpcd):
every PC/SC client then sees a card in "Virtual PCD 00 00". The card keeps
its keys, certificates, PIN, PUK, retry counters and management key in the
state file (mode 0600), saved after every change; without --state it starts
factory-fresh and forgets everything when it stops.

  --state FILE    the card's state file
  --connect ADDR  vpcd's card port (default 127.0.0.1:35963, the first reader)
  --generic       a plain PIV card without YubiKey extensions (piv-go cannot
                  open it; OpenSC can)
  --trace         print every APDU and status word on stderr, secrets redacted

'init' creates a state file: factory PIN 123456, PUK 12345678 and the
default 3DES management key 010203040506070801020304050607080102030405060708,
or, with --secrets-stdin, three lines read from standard input: the PIN, the
PUK and the management key in hex (24 bytes: 3DES, 16: AES-128, 32: AES-256;
--management-key-aes192 for a 24-byte AES key). An empty line keeps the
default. --slot, --cert and --key repeat, matched in order; SLOT is 9a, 9c,
9d, 9e or 82–95; either of --cert and --key may be "-" to leave it out.
--generate ALG (rsa2048, p256 or p384; "-" to leave it out) makes a new key
in the matching slot, on the card, and prints its public key (PEM) on
standard output, for a CA to certify.

--pin-policy is each key's own PIN policy, as a YubiKey keeps it and
reports it in GET METADATA: once (a VERIFY serves the session), always (a
VERIFY right before each use) or never (no PIN). Given once it applies to
every slot; given as often as --slot, to the matching slot. Without it each
slot takes its default: always for 9c, never for 9e, once for the others.

--global-pin PIN gives the card a global PIN (key reference 00) besides the
PIV PIN, and a discovery object whose PIN usage policy lets either serve;
--global-primary makes the global PIN the primary one, the PIN clients ask.

Examples:

  sclogon vcard init --state alice.card --slot 9a --cert alice.pem --key alice.key
  sclogon vcard --state alice.card --trace
  pkcs11-tool --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so -L -O

Exit status: 0 when stopped by a signal, 1 on failure, 2 on a usage error.
`

// Main runs `sclogon vcard` with args (the words after "vcard").
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "init" {
		return mainInit(args[1:], stdin, stdout, stderr)
	}
	fs := flag.NewFlagSet("sclogon vcard", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	statePath := fs.String("state", "", "")
	addr := fs.String("connect", DefaultVPCDAddr, "")
	generic := fs.Bool("generic", false, "")
	trace := fs.Bool("trace", false, "")
	if err := fs.Parse(args); err != nil {
		return usageError(stderr, err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(stderr, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	var st *State
	var err error
	opt := Options{Generic: *generic}
	if *statePath == "" {
		st, err = NewState(nil)
	} else {
		st, err = Load(*statePath)
		path := *statePath
		opt.Save = func(s *State) error { return s.Save(path) }
	}
	if err != nil {
		fmt.Fprintf(stderr, "sclogon: error: %v\n", err)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "sclogon: hint: create it with 'sclogon vcard init --state %s'\n", *statePath)
		}
		return 1
	}
	if *trace {
		opt.Trace = stderr
	}
	card := New(st, opt)
	kind := "YubiKey-compatible"
	if *generic {
		kind = "generic"
	}
	fmt.Fprintf(stderr, "sclogon: %s PIV card, serial %d, waiting for pcscd's vpcd at %s (Ctrl-C to stop)\n", kind, st.Serial(), *addr)
	err = card.ServeVPCD(ctx, *addr, func() {
		fmt.Fprintf(stderr, "sclogon: card inserted into the reader behind %s\n", *addr)
	})
	if ctx.Err() != nil {
		return 0
	}
	fmt.Fprintf(stderr, "sclogon: error: %v\n", err)
	return 1
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "sclogon: error: %s\nsclogon: hint: see 'sclogon help vcard'\n", msg)
	return 2
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func mainInit(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sclogon vcard init", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	statePath := fs.String("state", "", "")
	var slots, certFiles, keyFiles, generate, policyNames listFlag
	fs.Var(&slots, "slot", "")
	fs.Var(&certFiles, "cert", "")
	fs.Var(&keyFiles, "key", "")
	fs.Var(&generate, "generate", "")
	fs.Var(&policyNames, "pin-policy", "")
	globalPIN := fs.String("global-pin", "", "")
	globalPrimary := fs.Bool("global-primary", false, "")
	secrets := fs.Bool("secrets-stdin", false, "")
	aes192 := fs.Bool("management-key-aes192", false, "")
	force := fs.Bool("force", false, "")
	if err := fs.Parse(args); err != nil {
		return usageError(stderr, err.Error())
	}
	switch {
	case fs.NArg() > 0:
		return usageError(stderr, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case *statePath == "":
		return usageError(stderr, "init needs --state FILE")
	case len(certFiles) > len(slots) || len(keyFiles) > len(slots) || len(generate) > len(slots):
		return usageError(stderr, "each --cert, --key and --generate needs a --slot before it")
	case len(policyNames) > 1 && len(policyNames) != len(slots):
		return usageError(stderr, "give --pin-policy once, or once per --slot")
	case *globalPrimary && *globalPIN == "":
		return usageError(stderr, "--global-primary needs --global-pin")
	}
	policies, err := parsePolicies(policyNames, len(slots))
	if err != nil {
		return usageError(stderr, err.Error())
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "sclogon: error: %v\n", err)
		return 1
	}
	st, err := NewState(nil)
	if err != nil {
		return fail(err)
	}
	if *secrets {
		if err := readSecrets(st, stdin, *aes192); err != nil {
			return fail(err)
		}
	}
	if *globalPIN != "" {
		if err := st.SetGlobalPIN(*globalPIN, *globalPrimary); err != nil {
			return fail(err)
		}
	}
	for i, name := range slots {
		sp := slotSpec{name: name, cert: at(certFiles, i), key: at(keyFiles, i), generate: at(generate, i), policy: policies[i]}
		if err := sp.fill(st, stdout); err != nil {
			var u initUsageError
			if errors.As(err, &u) {
				return usageError(stderr, u.msg)
			}
			return fail(err)
		}
	}
	if *force {
		err = st.Save(*statePath)
	} else {
		err = st.Create(*statePath)
	}
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			fmt.Fprintf(stderr, "sclogon: error: %s exists\nsclogon: hint: add --force to replace it\n", *statePath)
			return 1
		}
		return fail(err)
	}
	fmt.Fprintf(stdout, "%s: PIV card, serial %d, %d key(s)\n", *statePath, st.Serial(), len(st.keys))
	return 0
}

// at is l[i], or "-" (left out) past its end.
func at(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return "-"
}

// initUsageError is a mistake in init's flags.
type initUsageError struct{ msg string }

func (e initUsageError) Error() string { return e.msg }

// slotSpec is what init puts in one slot: a certificate and key from files
// ("-": none), or a key generated on the card, with the key's PIN policy.
type slotSpec struct {
	name, cert, key, generate string
	policy                    PINPolicy
}

// fill puts the slot's certificate and key into st; a generated key's
// public key goes to stdout as PEM.
func (sp slotSpec) fill(st *State, stdout io.Writer) error {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(sp.name), "0x"), 16, 8)
	if err != nil || !isKeySlot(byte(n)) {
		return initUsageError{fmt.Sprintf("--slot %q: want 9a, 9c, 9d, 9e or 82–95", sp.name)}
	}
	slot := byte(n)
	if sp.generate != "-" {
		if sp.cert != "-" || sp.key != "-" {
			return initUsageError{fmt.Sprintf("--slot %s: --generate makes the key; leave out --cert and --key (or give -)", sp.name)}
		}
		pub, err := st.GenerateKey(slot, sp.generate, sp.policy, nil)
		if err != nil {
			return err
		}
		return writePublicKeyPEM(stdout, pub)
	}
	var certDER []byte
	if sp.cert != "-" {
		if certDER, err = readCertPEM(sp.cert); err != nil {
			return err
		}
		if err := st.SetCertificate(slot, certDER); err != nil {
			return err
		}
	}
	if sp.key == "-" {
		return nil
	}
	key, err := readKeyPEM(sp.key)
	if err != nil {
		return err
	}
	if certDER != nil {
		cert, _ := x509.ParseCertificate(certDER)
		if !publicKeysEqual(cert.PublicKey, key.Public()) {
			return fmt.Errorf("vcard: %s is not the key of the certificate in %s", sp.key, sp.cert)
		}
	}
	return st.SetKey(slot, key, sp.policy)
}

// parsePolicies reads the --pin-policy values: none (each slot's default),
// one for every slot, or one per slot.
func parsePolicies(names []string, slots int) ([]PINPolicy, error) {
	out := make([]PINPolicy, slots)
	for i, name := range names {
		var p PINPolicy
		switch name {
		case "", "default":
			p = PINPolicyDefault
		case "never":
			p = PINPolicyNever
		case "once":
			p = PINPolicyOnce
		case "always":
			p = PINPolicyAlways
		default:
			return nil, fmt.Errorf("--pin-policy %q: want once, always or never", name)
		}
		if len(names) == 1 {
			for j := range out {
				out[j] = p
			}
			break
		}
		out[i] = p
	}
	return out, nil
}

func writePublicKeyPEM(w io.Writer, pub crypto.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("vcard: %w", err)
	}
	return pem.Encode(w, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := a.(equaler); ok {
		return e.Equal(b)
	}
	return reflect.DeepEqual(a, b)
}

// readSecrets reads PIN, PUK and management key lines; empty keeps the default.
func readSecrets(st *State, r io.Reader, aes192 bool) error {
	sc := bufio.NewScanner(r)
	var lines []string
	for len(lines) < 3 && sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("vcard: reading secrets: %w", err)
	}
	for len(lines) < 3 {
		lines = append(lines, "")
	}
	if lines[0] != "" {
		if err := st.SetPIN(lines[0]); err != nil {
			return err
		}
	}
	if lines[1] != "" {
		if err := st.SetPUK(lines[1]); err != nil {
			return err
		}
	}
	if lines[2] != "" {
		key, err := hex.DecodeString(strings.TrimSpace(lines[2]))
		if err != nil {
			return errors.New("vcard: the management key (third line) is not hex")
		}
		alg := map[int]ManagementKeyAlgorithm{16: ManagementKeyAES128, 24: ManagementKey3DES, 32: ManagementKeyAES256}[len(key)]
		if aes192 && len(key) == 24 {
			alg = ManagementKeyAES192
		}
		if err := st.SetManagementKey(alg, key); err != nil {
			return err
		}
	}
	return nil
}

func readCertPEM(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vcard: %w", err)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("vcard: no CERTIFICATE block in %s", path)
		}
		if blk.Type == "CERTIFICATE" {
			return blk.Bytes, nil
		}
	}
}

func readKeyPEM(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vcard: %w", err)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("vcard: no private key block in %s", path)
		}
		var key any
		switch blk.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("vcard: %s: %w", path, err)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("vcard: %s: unsupported key type %T", path, key)
		}
		return s, nil
	}
}
