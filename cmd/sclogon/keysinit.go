package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sclogon/sclogon/card/cardkey"
	"github.com/sclogon/sclogon/kdc"
)

// runKDCKeys is `sclogon kdc keys SUBCOMMAND`; init is the one there is.
func runKDCKeys(ctx context.Context, s stdio, args []string) int {
	if len(args) == 0 || args[0] != "init" {
		fmt.Fprintln(s.errOut, "sclogon: error: usage: sclogon kdc keys init --config FILE [--json]")
		return exitUsage
	}
	return runKDCKeysInit(ctx, s, args[1:])
}

// runKDCKeysInit is `sclogon kdc keys init`: the first keys of krbtgt and
// the configuration's services, in the key store it names, unless they
// have keys already. A KDC makes them itself when it starts; several KDCs
// of one realm over replicating directory servers must not, as each
// server would accept its own first keys and replication keep one, so
// the realm's keys are made once, here, before the KDCs start.
func runKDCKeysInit(ctx context.Context, s stdio, args []string) int {
	fs := flag.NewFlagSet("sclogon kdc keys init", flag.ContinueOnError)
	fs.SetOutput(s.errOut)
	configPath := fs.String("config", "", "the KDC's configuration file")
	asJSON := fs.Bool("json", false, "print what was done as JSON")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *configPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(s.errOut, "sclogon: error: usage: sclogon kdc keys init --config FILE [--json]")
		return exitUsage
	}
	fc, err := kdc.LoadConfigWith(*configPath, kdc.LoadOptions{OpenKey: cardkey.OpenWithPINFile})
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	ks, err := fc.OpenKeys(ctx, rand.Reader, time.Now, nil)
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	var done []initKeys
	for _, p := range append([]string{"krbtgt/" + fc.Realm + "@" + fc.Realm}, fc.Services...) {
		made, err := ks.Make(p)
		if err != nil {
			fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
			return exitFail
		}
		k, _ := ks.Key(p, 0)
		done = append(done, initKeys{Principal: p, KVNO: k.KVNO, Made: made})
	}
	printKeysInit(s, done, *asJSON)
	where := filepath.Join(fc.StateDir, "keys.json")
	if l, ok := fc.KeyBackend.(*kdc.LDAPKeys); ok {
		where = l.Container()
	}
	made := 0
	for _, d := range done {
		if d.Made {
			made++
		}
	}
	if made == 0 {
		fmt.Fprintf(s.errOut, "sclogon: the realm's keys exist already in %s: nothing to do\n", where)
	} else {
		fmt.Fprintf(s.errOut, "sclogon: made the keys of %d principals in %s\n", made, where)
	}
	return exitOK
}

// initKeys is what keys init did for one principal.
type initKeys struct {
	Principal string `json:"principal"`
	KVNO      uint32 `json:"kvno"`
	Made      bool   `json:"made"` // false: it had keys already
}

// printKeysInit writes to stdout a line "made|exists PRINCIPAL KVNO" (tab
// separated) per principal, or a JSON array.
func printKeysInit(s stdio, done []initKeys, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		enc.Encode(done)
		return
	}
	for _, d := range done {
		what := "exists"
		if d.Made {
			what = "made"
		}
		fmt.Fprintf(s.out, "%s\t%s\t%d\n", what, d.Principal, d.KVNO)
	}
}
