package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
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
       sclogon kdc rollover --config FILE [--principal krbtgt/REALM@REALM] [--json]
       sclogon kdc keys init --config FILE [--json]
       sclogon kdc example-config
       sclogon kdc conform [--client 'COMMAND' ...] [flags]

Runs a KDC that judges a smart-card logon as an Active Directory domain
controller does: the CMS signature, the certificate path, the NTAuth store,
OCSP, the certificate-to-account mapping (LDAP or LDIF, KB5014754), then a TGT
with a PAC. It answers on UDP and TCP at every 'listen' address and writes one
JSON line per request to the audit log. SIGTERM or Ctrl-C stops it after the
requests in progress.

SIGHUP (systemctl reload sclogon-kdc) reloads the configuration file, and
with it the NTAuth store, the LDIF directory and the keys, without a restart:
requests in progress finish with the configuration they started with. A file
that does not load is refused, with the reason in the log, and the KDC goes on
with the configuration it had; so is one that changes the realm, the listen
or http_listen addresses, the audit log or the server's limits, which need a
restart. Under systemd (Type=notify) the KDC reports when it is ready and
when it reloads.

With http_listen set, an HTTP endpoint serves /healthz/live, /healthz/ready
(the keys loaded, the directory answering) and /metrics (Prometheus text
format: requests by type and result, latency, key exchanges, mapping
methods, OCSP, dropped and rate-limited packets, connections, reloads).

'keytab' writes a service principal's keys as an MIT keytab (0600), for a host
that validates tickets (sclogon pam). 'example-config' prints a configuration
file that documents every key. 'conform' runs a conformance KDC that checks
whether a PKINIT client refuses faulty replies: 'sclogon help kdc conform'.

'rollover' gives a principal (krbtgt/REALM by default) a new key version in
the key store the configuration names (keys = file or keys = ldap, which every
KDC of the realm shares). New tickets use it once each KDC re-reads its keys
(keys_refresh); the version it replaces still decrypts the tickets issued
under it until they expire (ticket_lifetime + renew_lifetime + max_skew), and
versions past that are removed. It prints the new kvno and what was kept
(--json: as JSON).

'keys init' makes the first keys of krbtgt and the services, in that key
store, unless they exist (then it says so and exits 0). A KDC makes them
itself when it starts; several KDCs over replicating directory servers must
not, as two providers each accept their own: run it once, before they start.

Examples:
  sclogon kdc example-config > kdc.conf
  sclogon kdc --config kdc.conf
  sclogon kdc keytab --config kdc.conf --principal host/ws1.example.com -o /etc/krb5.keytab
  sclogon kdc rollover --config kdc.conf
  sclogon kdc keys init --config kdc.conf
`,
		run: runKDC,
	})
}

func runKDC(ctx context.Context, s stdio, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "conform":
			return runConform(ctx, s, args[1:]) // a conformance KDC for clients: its own page
		case "keytab":
			return runKDCKeytab(s, args[1:])
		case "rollover":
			return runKDCRollover(ctx, s, args[1:])
		case "keys":
			return runKDCKeys(ctx, s, args[1:])
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
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(s.errOut, &slog.HandlerOptions{Level: level}))
	if err := serveKDC(ctx, s, *configPath, log); err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	log.Info("sclogon kdc: stopped")
	return exitOK
}

// serveKDC loads the configuration at path and serves it until ctx ends,
// reloading it on SIGHUP.
func serveKDC(ctx context.Context, s stdio, path string, log *slog.Logger) error {
	// Registered first: until then a SIGHUP would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	keys := &cardKeys{}
	loadOpts := kdc.LoadOptions{OpenKey: keys.open}
	fc, err := kdc.LoadConfigWith(path, loadOpts)
	if err != nil {
		return err
	}
	if len(fc.Listen) == 0 {
		return errors.New("the configuration has no 'listen' address under [kdc]")
	}
	audit, closeAudit, err := openAuditLog(fc.AuditLog, s.errOut)
	if err != nil {
		return err
	}
	defer closeAudit()
	load := func() (*kdc.FileConfig, error) { return kdc.LoadConfigWith(path, loadOpts) }
	r, err := kdc.NewReloader(fc, load, kdc.Options{Rand: rand.Reader, Log: log, Audit: audit})
	if err != nil {
		return err
	}
	defer r.Close()
	ls, err := kdc.Listen(fc.Listen)
	if err != nil {
		return err
	}
	srv := fc.Server(r, log)
	stopHTTP, err := serveKDCHTTP(ctx, fc.HTTPListen, r, srv, log)
	if err != nil {
		for _, l := range ls {
			l.UDP.Close()
			l.TCP.Close()
		}
		return err
	}
	defer stopHTTP()
	var addrs []string
	for _, l := range ls {
		addrs = append(addrs, l.TCP.Addr().String())
	}
	log.Info("sclogon kdc: serving", "realm", fc.Realm, "listen", strings.Join(addrs, " "))
	sctx, cancel := context.WithCancel(ctx)
	reloaderDone := make(chan struct{})
	go func() {
		defer close(reloaderDone)
		reloadOnHUP(sctx, hup, r, log)
	}()
	notifyServiceManager(log, "READY=1\nSTATUS=serving "+fc.Realm)
	err = srv.Serve(sctx, ls, 5*time.Second)
	// The process must not end before the service manager has been told
	// it is stopping: wait for the reloader to say so.
	cancel()
	<-reloaderDone
	return err
}

// openAuditLog opens the audit log: "" none, "stderr", or a file appended to.
func openAuditLog(path string, stderr io.Writer) (io.Writer, func(), error) {
	switch path {
	case "":
		return nil, func() {}, nil
	case "stderr":
		return stderr, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("audit log: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// serveKDCHTTP serves the health and metrics endpoint at addr, if set,
// until ctx ends or stop is called.
func serveKDCHTTP(ctx context.Context, addr string, r *kdc.Reloader, srv *kdc.Server, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http_listen: %w", err)
	}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := kdc.ServeHTTP(hctx, l, r.HTTPHandler(srv)); err != nil {
			log.Error("sclogon kdc: the HTTP endpoint stopped", "err", err)
		}
	}()
	log.Info("sclogon kdc: health and metrics", "http", "http://"+l.Addr().String()+"/metrics")
	return func() { cancel(); <-done }, nil
}

// reloadOnHUP reloads the configuration at each SIGHUP until ctx ends,
// telling the service manager while it does, and as the KDC starts to stop.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, r *kdc.Reloader, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			notifyServiceManager(log, "STOPPING=1")
			return
		case <-hup:
		}
		log.Info("sclogon kdc: SIGHUP: reloading the configuration")
		notifyServiceManager(log, reloadingState())
		status := "serving " + r.Config().Realm
		if err := r.Reload(); err != nil {
			// The Reloader has logged the reason.
			status = "serving " + r.Config().Realm + "; the last reload was refused: see the log"
		}
		notifyServiceManager(log, "READY=1\nSTATUS="+status)
	}
}

// cardKeys opens each card key once for the life of the process: a reload
// that keeps the key setting reuses the open card instead of opening it
// again and spending a PIN verification.
type cardKeys struct {
	mu     sync.Mutex
	opened map[string]openedKey
}

type openedKey struct {
	signer crypto.Signer
	cert   *x509.Certificate
}

// open is a kdc.KeyOpener.
func (c *cardKeys) open(spec string, cert *x509.Certificate, pinFile string) (crypto.Signer, *x509.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := spec + "\x00" + pinFile
	if cert != nil {
		id += "\x00" + string(cert.Raw)
	}
	if k, ok := c.opened[id]; ok {
		return k.signer, k.cert, nil
	}
	signer, got, err := cardkey.OpenWithPINFile(spec, cert, pinFile)
	if err != nil {
		return nil, nil, err
	}
	if c.opened == nil {
		c.opened = map[string]openedKey{}
	}
	c.opened[id] = openedKey{signer, got}
	return signer, got, nil
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
	ks, err := fc.OpenKeys(context.Background(), rand.Reader, time.Now, nil)
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
