package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/sclogon/sclogon/card/cardkey"
	"github.com/sclogon/sclogon/kdc"
)

func init() {
	register(&command{
		name:    "kdc",
		summary: "run the test KDC (AS with PKINIT, TGS, PAC, audit log)",
		help: `
usage: sclogon kdc --config FILE
       sclogon kdc keytab --config FILE --principal host/NAME -o FILE
       sclogon kdc example-config

Runs a KDC that judges a smart-card logon as an Active Directory domain
controller does: the CMS signature, the certificate path, the NTAuth store,
OCSP, the certificate-to-account mapping (LDAP or LDIF, KB5014754), then a TGT
with a PAC. It answers on UDP and TCP at every 'listen' address and writes one
JSON line per request to the audit log. SIGTERM or Ctrl-C stops it after the
requests in progress.

'keytab' writes a service principal's keys as an MIT keytab (0600), for a host
that validates tickets (sclogon pam). 'example-config' prints a configuration
file that documents every key.

Examples:
  sclogon kdc example-config > kdc.conf
  sclogon kdc --config kdc.conf
  sclogon kdc keytab --config kdc.conf --principal host/ws1.example.com -o /etc/krb5.keytab
`,
		run: runKDC,
	})
}

func runKDC(ctx context.Context, s stdio, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "keytab":
			return runKDCKeytab(s, args[1:])
		case "example-config":
			fmt.Fprint(s.out, kdc.ExampleConfig)
			return exitOK
		}
	}
	fs := flag.NewFlagSet("sclogon kdc", flag.ContinueOnError)
	fs.SetOutput(s.errOut)
	configPath := fs.String("config", "", "the KDC's configuration file")
	verbose := fs.Bool("v", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *configPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(s.errOut, "sclogon: error: usage: sclogon kdc --config FILE")
		return exitUsage
	}
	fc, err := kdc.LoadConfigWith(*configPath, kdc.LoadOptions{OpenKey: cardkey.OpenWithPINFile})
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	if len(fc.Listen) == 0 {
		fmt.Fprintln(s.errOut, "sclogon: error: the configuration has no 'listen' address under [kdc]")
		return exitFail
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(s.errOut, &slog.HandlerOptions{Level: level}))
	var audit io.Writer
	switch fc.AuditLog {
	case "":
	case "stderr":
		audit = s.errOut
	default:
		f, err := os.OpenFile(fc.AuditLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(s.errOut, "sclogon: error: audit log: %v\n", err)
			return exitFail
		}
		defer f.Close()
		audit = f
	}
	k, err := kdc.New(fc.Config, kdc.Options{Rand: rand.Reader, Log: log, Audit: audit})
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	ls, err := kdc.Listen(fc.Listen)
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	var addrs []string
	for _, l := range ls {
		addrs = append(addrs, l.TCP.Addr().String())
	}
	log.Info("sclogon kdc: serving", "realm", k.Realm(), "listen", strings.Join(addrs, " "))
	if err := fc.Server(k, log).Serve(ctx, ls, 5*time.Second); err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	log.Info("sclogon kdc: stopped")
	return exitOK
}

func runKDCKeytab(s stdio, args []string) int {
	fs := flag.NewFlagSet("sclogon kdc keytab", flag.ContinueOnError)
	fs.SetOutput(s.errOut)
	configPath := fs.String("config", "", "the KDC's configuration file")
	principal := fs.String("principal", "", "the service principal, e.g. host/ws1.example.com")
	out := fs.String("o", "", "the keytab file to write")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *configPath == "" || *principal == "" || *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(s.errOut, "sclogon: error: usage: sclogon kdc keytab --config FILE --principal host/NAME -o FILE")
		return exitUsage
	}
	fc, err := kdc.LoadConfigWith(*configPath, kdc.LoadOptions{OpenKey: cardkey.OpenWithPINFile})
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	p := *principal
	if !strings.Contains(p, "@") {
		p += "@" + fc.Realm
	}
	ks, err := kdc.OpenKeyStore(fc.StateDir, rand.Reader, time.Now)
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	if err := ks.Ensure(p); err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	kt, err := ks.Keytab(p)
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	if err := kdc.WritePrivateFile(*out, kt); err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(s.errOut, "sclogon: wrote the keys of %s to %s\n", p, *out)
	return exitOK
}
