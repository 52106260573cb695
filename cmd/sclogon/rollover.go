package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sclogon/sclogon/card/cardkey"
	"github.com/sclogon/sclogon/kdc"
)

// runKDCRollover is `sclogon kdc rollover`: a new key version for a
// principal of the realm (krbtgt by default), in the key store the
// configuration names (keys.json, or the directory every KDC shares).
func runKDCRollover(ctx context.Context, s stdio, args []string) int {
	fs := flag.NewFlagSet("sclogon kdc rollover", flag.ContinueOnError)
	fs.SetOutput(s.errOut)
	configPath := fs.String("config", "", "the KDC's configuration file")
	principal := fs.String("principal", "", "the principal to roll over (default krbtgt/REALM@REALM)")
	asJSON := fs.Bool("json", false, "print what was done as JSON")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *configPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(s.errOut, "sclogon: error: usage: sclogon kdc rollover --config FILE [--principal krbtgt/REALM@REALM] [--json]")
		return exitUsage
	}
	fc, err := kdc.LoadConfigWith(*configPath, kdc.LoadOptions{OpenKey: cardkey.OpenWithPINFile})
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	p := *principal
	if p == "" {
		p = "krbtgt/" + fc.Realm
	}
	if !strings.Contains(p, "@") {
		p += "@" + fc.Realm
	}
	ks, err := fc.OpenKeys(ctx, rand.Reader, time.Now, nil)
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		return exitFail
	}
	r, err := ks.Rollover(ctx, p)
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n", err)
		if _, ok := ks.Keys(p); !ok {
			fmt.Fprintf(s.errOut, "sclogon: hint: %s has no keys; the KDC makes them for krbtgt and its 'services' when it starts\n", p)
		}
		return exitFail
	}
	printRolled(s, r, *asJSON)
	refresh := fc.KeyRefresh
	if refresh == 0 {
		refresh = time.Minute
	}
	fmt.Fprintf(s.errOut, "sclogon: new tickets for %s use kvno %d once each KDC re-reads its keys (every %s)\n", p, r.KVNO, refresh)
	for _, kvno := range slices.Sorted(maps.Keys(r.Retired)) {
		fmt.Fprintf(s.errOut, "sclogon: kvno %d still decrypts the tickets issued under it, until %s\n", kvno, r.Retired[kvno].UTC().Format(time.DateTime+" MST"))
	}
	if !strings.HasPrefix(p, "krbtgt/") {
		fmt.Fprintf(s.errOut, "sclogon: hint: give the host its new key: sclogon kdc keytab --config %s --principal %s -o FILE\n", *configPath, p)
	}
	return exitOK
}

// printRolled writes what a rollover did to stdout: tab-separated lines,
// or one JSON object.
func printRolled(s stdio, r kdc.Rolled, asJSON bool) {
	if asJSON {
		type retired struct {
			KVNO     uint32    `json:"kvno"`
			NotAfter time.Time `json:"not_after"`
		}
		out := struct {
			Principal string    `json:"principal"`
			KVNO      uint32    `json:"kvno"`
			Retired   []retired `json:"retired"`
			Pruned    []uint32  `json:"pruned"`
		}{Principal: r.Principal, KVNO: r.KVNO, Retired: []retired{}, Pruned: append([]uint32{}, r.Pruned...)}
		for _, kvno := range slices.Sorted(maps.Keys(r.Retired)) {
			out.Retired = append(out.Retired, retired{kvno, r.Retired[kvno].UTC()})
		}
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return
	}
	fmt.Fprintf(s.out, "principal\t%s\nkvno\t%d\n", r.Principal, r.KVNO)
	for _, kvno := range slices.Sorted(maps.Keys(r.Retired)) {
		fmt.Fprintf(s.out, "retired\t%d\t%s\n", kvno, r.Retired[kvno].UTC().Format(time.RFC3339))
	}
	for _, kvno := range r.Pruned {
		fmt.Fprintf(s.out, "pruned\t%d\n", kvno)
	}
}
