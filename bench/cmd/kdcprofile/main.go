// Command kdcprofile runs sclogon's KDC as `sclogon kdc --config FILE` does,
// with a CPU profile of the whole process written when it stops (SIGTERM or
// Ctrl-C): `sclogon kdc` has no profiling flag, and a profile taken in the
// load generator's process would mix the clients' work into the KDC's.
//
//	kdcprofile --cpuprofile kdc.pprof --config kdc.conf
//	go tool pprof -top kdcprofile kdc.pprof
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/sclogon/sclogon/kdc"
)

func main() {
	os.Exit(run())
}

func run() int {
	configPath := flag.String("config", "", "the KDC's configuration file (see 'sclogon kdc example-config')")
	profilePath := flag.String("cpuprofile", "", "write the CPU profile here when stopped")
	flag.Parse()
	if *configPath == "" || *profilePath == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "kdcprofile: error: usage: kdcprofile --cpuprofile FILE --config FILE")
		return 2
	}
	fc, err := kdc.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kdcprofile: error: %v\n", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var audit io.Writer
	if fc.AuditLog != "" && fc.AuditLog != "stderr" {
		f, err := os.OpenFile(fc.AuditLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kdcprofile: error: audit log: %v\n", err)
			return 1
		}
		defer f.Close()
		audit = f
	} else if fc.AuditLog == "stderr" {
		audit = os.Stderr
	}
	k, err := kdc.New(fc.Config, kdc.Options{Rand: rand.Reader, Log: log, Audit: audit})
	if err != nil {
		fmt.Fprintf(os.Stderr, "kdcprofile: error: %v\n", err)
		return 1
	}
	ls, err := kdc.Listen(fc.Listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kdcprofile: error: %v\n", err)
		return 1
	}
	prof, err := os.Create(*profilePath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kdcprofile: error: %v\n", err)
		return 1
	}
	defer prof.Close()
	if err := pprof.StartCPUProfile(prof); err != nil {
		fmt.Fprintf(os.Stderr, "kdcprofile: error: %v\n", err)
		return 1
	}
	defer pprof.StopCPUProfile()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &kdc.Server{Handler: k, Realm: k.Realm(), Log: log, MaxRequest: fc.MaxRequest, RequestTimeout: fc.RequestTimeout}
	if err := srv.Serve(ctx, ls, 5*time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "kdcprofile: error: %v\n", err)
		return 1
	}
	return 0
}
