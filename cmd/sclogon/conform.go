package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/kdc/conform"
)

const conformHelp = `
usage: sclogon kdc conform --client 'COMMAND' [--client 'COMMAND' ...] [flags]
       sclogon kdc conform [--listen HOST:PORT] [flags]

Checks that a PKINIT client fails closed. A conformance KDC answers the
client's AS-REQ with one deliberate fault per attempt (a broken KDC signature,
a KDC certificate from an untrusted CA, without id-pkinit-KPKdc, naming
another realm or expired, a wrong nonce, a wrong or missing asChecksum, a DH
public value of 1 or p-1 or outside the subgroup, an ECDH point off the curve,
a SHA-1 signature, a downgrade to MODP group 2, RSA key transport for a DH
request, a wrong EncASRepPart key usage, another cname, a serverDHNonce
without dhKeyExpiration), after a control exchange with no fault. A client
accepted a fault when it holds the session key of the ticket the faulty reply
carried: in the ccache it wrote, or by using the TGT in a TGS-REQ. Nothing
else counts, so a client cannot pass by exiting 0 or fail by printing noise.

It makes its PKI in --dir: ca.pem (the CA the client must trust), a client
identity (client.pem, client-key.pem) and krb5.conf, naming the KDC, ca.pem as
pkinit_anchors and the identity as pkinit_identities.

With --client, each COMMAND is run by sh once per fault (more for the faults
where the KDC can only guess the client's key), with KRB5_CONFIG set to that
krb5.conf, KRB5CCNAME to a fresh ccache and CONFORM_DIR to --dir. The control
runs with every command; each fault runs with the first command whose
control logged on with a request the fault applies to, so give one command
per key exchange (DH, ECDH, RSA key transport) to cover them all.

Without --client it listens: log on by hand, once per fault, with
KRB5_CONFIG=DIR/krb5.conf, and after each logon that succeeds ask for a
service ticket with the TGT (kvno conform/check): the KDC refuses it, having
seen which reply the TGT came from. The table is printed when every fault has
been shown and --linger has passed, or on Ctrl-C.

flags:
  --client COMMAND        a client to drive (repeatable)
  --listen HOST:PORT      where the KDC listens (default 127.0.0.1:0, a free port)
  --realm REALM           the realm (default CONFORM.TEST)
  --dir DIR               the PKI, krb5.conf and ccache (default: a new temporary directory)
  --libdefaults 'K = V'   an extra [libdefaults] line in krb5.conf (repeatable)
  --fault NAME            run only this fault, after the control (repeatable)
  --timeout DURATION      bound on one client run (default 1m)
  --linger DURATION       listener: wait this long for TGS-REQs after the last fault (default 30s)
  --json                  print the table as JSON
  -v                      log every request and client run on stderr

The table goes to stdout: fault, expected outcome, observed outcome, the key
exchange, and the client's own error (the last line it printed that is not a
hint); then a summary line. 'sclogon kdc conform --list' prints the faults.

Examples:
  sclogon kdc conform --client 'kinit -X X509_user_identity=FILE:$CONFORM_DIR/client.pem,$CONFORM_DIR/client-key.pem alice' \
      --client 'kinit -X X509_user_identity=FILE:$CONFORM_DIR/client.pem,$CONFORM_DIR/client-key.pem -X flag_RSA_PROTOCOL=yes alice'
  sclogon kdc conform --libdefaults 'pkinit_dh_min_bits = 1536' \
      --client 'kinit.heimdal --pk-user=FILE:$CONFORM_DIR/client.pem,$CONFORM_DIR/client-key.pem alice'
  sclogon kdc conform --client 'sclogon kinit alice' --client 'sclogon kinit --ecdh P-256 alice' \
      --client 'sclogon kinit --rsa-key-transport alice' --json
  sclogon kdc conform --listen 0.0.0.0:8888 --dir conform

Exit codes: 0 the control logged on and every fault shown was refused, 1 a
fault was accepted or the control did not log on (or the KDC could not
start), 2 usage.
`

func init() { subcommandHelp["kdc conform"] = conformHelp }

// conformFlags are sclogon kdc conform's flags.
type conformFlags struct {
	clients, libdefaults, faults listFlag
	listen, realm, dir           string
	timeout, linger              time.Duration
	json, list, verbose          bool
}

func parseConformFlags(s stdio, args []string) (*conformFlags, int) {
	var f conformFlags
	fs := flag.NewFlagSet("sclogon kdc conform", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&f.clients, "client", "")
	fs.Var(&f.libdefaults, "libdefaults", "")
	fs.Var(&f.faults, "fault", "")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "")
	fs.StringVar(&f.realm, "realm", "CONFORM.TEST", "")
	fs.StringVar(&f.dir, "dir", "", "")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "")
	fs.DurationVar(&f.linger, "linger", 30*time.Second, "")
	fs.BoolVar(&f.json, "json", false, "")
	fs.BoolVar(&f.list, "list", false, "")
	fs.BoolVar(&f.verbose, "v", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\nsclogon: hint: 'sclogon help kdc conform' lists the flags\n", err)
		return nil, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(s.errOut, "sclogon: error: unexpected argument %q; quote a client command: --client 'kinit …'\n", fs.Arg(0))
		return nil, exitUsage
	}
	return &f, exitOK
}

func runConform(ctx context.Context, s stdio, args []string) int {
	if asksHelp(args, false) {
		fmt.Fprint(s.out, strings.TrimLeft(conformHelp, "\n"))
		return exitOK
	}
	f, code := parseConformFlags(s, args)
	if f == nil {
		return code
	}
	if f.list {
		for _, fault := range conform.Faults() {
			fmt.Fprintf(s.out, "%-36s %s\n", fault.Name, fault.Summary)
		}
		return exitOK
	}
	faults, err := selectFaults(f.faults)
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\nsclogon: hint: 'sclogon kdc conform --list' names them\n", err)
		return exitUsage
	}
	rep, err := conformRun(ctx, s, f, faults)
	if err != nil && rep == nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	if f.json {
		rep.WriteJSON(s.out)
	} else {
		rep.WriteText(s.out)
	}
	if err != nil || !rep.Passed() {
		return exitFail
	}
	return exitOK
}

// selectFaults is the control and the named faults, or every fault.
func selectFaults(names []string) ([]conform.Fault, error) {
	if len(names) == 0 {
		return conform.Faults(), nil
	}
	out := []conform.Fault{conform.Control}
	for _, n := range names {
		fault, ok := conform.FaultByName(n)
		if !ok {
			return nil, fmt.Errorf("no fault %q", n)
		}
		if fault.Name != conform.Control.Name {
			out = append(out, fault)
		}
	}
	return out, nil
}

// conformRun starts the KDC, then drives the clients or waits for them.
func conformRun(ctx context.Context, s stdio, f *conformFlags, faults []conform.Fault) (*conform.Report, error) {
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(s.errOut, &slog.HandlerOptions{Level: level}))
	dir := f.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "sclogon-conform-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	p, err := conform.NewPKI(dir, f.realm, conform.PKIOptions{})
	if err != nil {
		return nil, err
	}
	k, err := conform.New(conform.Config{PKI: p, Log: log})
	if err != nil {
		return nil, err
	}
	ls, err := kdc.Listen([]string{f.listen})
	if err != nil {
		return nil, err
	}
	addr := ls[0].TCP.Addr().String()
	confPath, err := conform.WriteKrb5Conf(p, addr, f.libdefaults)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- (&kdc.Server{Handler: k, Realm: p.Realm, Log: log}).Serve(sctx, ls, time.Second) }()
	defer func() { cancel(); <-served }()
	fmt.Fprintf(s.errOut, "sclogon: conformance KDC for %s on %s (UDP and TCP)\n", p.Realm, addr)
	fmt.Fprintf(s.errOut, "sclogon: KRB5_CONFIG=%s; the client must trust %s; a client identity: FILE:%s,%s\n",
		confPath, p.AnchorPath(), p.ClientCertPath(), p.ClientKeyPath())
	if len(f.clients) > 0 {
		d := &conform.Driver{KDC: k, Clients: f.clients, Dir: dir, Timeout: f.timeout, Faults: faults}
		if f.verbose {
			d.Progress = s.errOut
		}
		return d.Run(ctx)
	}
	return listenForClients(ctx, s, k, faults, confPath, f.linger)
}

// listenForClients shows the faults to clients run by hand, then waits
// linger for the TGS-REQs that prove a TGT was taken.
func listenForClients(ctx context.Context, s stdio, k *conform.KDC, faults []conform.Fault, confPath string, linger time.Duration) (*conform.Report, error) {
	k.Schedule(faults)
	fmt.Fprintf(s.errOut, "sclogon: log on once per fault (%d, some faults take several tries), each time with\n", len(faults))
	fmt.Fprintf(s.errOut, "sclogon:   KRB5_CONFIG=%s kinit … && kvno conform/check\n", confPath)
	fmt.Fprintln(s.errOut, "sclogon: (kvno fails: the KDC issues no service tickets, but it sees which reply the TGT came from)")
	fmt.Fprintln(s.errOut, "sclogon: Ctrl-C prints the table of what has been shown")
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !k.Finished() {
		select {
		case <-ctx.Done():
			return k.ListenerReport(), nil
		case <-tick.C:
		}
	}
	fmt.Fprintf(s.errOut, "sclogon: every fault has been shown; waiting %v for TGS-REQs\n", linger)
	select {
	case <-ctx.Done():
	case <-time.After(linger):
	}
	rep := k.ListenerReport()
	if len(rep.Results) == 0 {
		return rep, errors.New("no client came")
	}
	return rep, nil
}
