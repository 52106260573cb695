package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sclogon/sclogon/demo"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "a whole smart-card logon on embedded defaults, in one process",
		help: `
usage: sclogon demo [--dir DIR]

Creates, in a temporary directory (or DIR), a test CA and a KDC certificate, a
software PIV card holding alice's key and certificate, and a KDC for
EXAMPLE.COM with an embedded directory; then logs alice on with the card and
its PIN, and prints each step and the tickets. With KRB5CCNAME set, the
tickets are written there, for MIT klist. Needs no card, no pcscd and no root.

Examples:
  sclogon demo
  KRB5CCNAME=FILE:/tmp/demo.cc sclogon demo && klist -c FILE:/tmp/demo.cc
`,
		run: func(ctx context.Context, s stdio, args []string) int {
			fs := flag.NewFlagSet("sclogon demo", flag.ContinueOnError)
			fs.SetOutput(s.errOut)
			dir := fs.String("dir", "", "keep the CA, card and KDC state in DIR instead of a temporary directory")
			if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
				return exitUsage
			}
			start := time.Now()
			fmt.Fprintln(s.out, "sclogon demo: a smart-card logon to EXAMPLE.COM, all in this process")
			fmt.Fprintln(s.out)
			if _, err := demo.Run(ctx, demo.Options{Dir: *dir, CCache: os.Getenv("KRB5CCNAME"), Out: s.out}); err != nil {
				fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
				return exitFail
			}
			fmt.Fprintf(s.out, "\ndone in %.1f s\n", time.Since(start).Seconds())
			return exitOK
		},
	})
}
