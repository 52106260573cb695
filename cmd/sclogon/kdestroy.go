package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sclogon/sclogon/kinit/ccache"
)

const kdestroyHelp = `
usage: sclogon kdestroy [-A] [-q] [-c CCACHE]

Destroys a credential cache, as MIT's kdestroy does, for hosts without MIT's
tools: every cache type sclogon kinit writes (FILE, DIR, KEYRING, KCM,
MEMORY). A FILE cache, and each file of a DIR collection, is overwritten
with zeros before it is removed, so the session keys do not stay on disk.

The cache is CCACHE, else KRB5CCNAME, else krb5.conf's default_ccache_name,
else FILE:/tmp/krb5cc_UID. A collection name (DIR:dir, KEYRING:persistent:UID,
KCM:) stands for its primary cache; -A destroys all of its caches.

flags (MIT kdestroy's letters and meanings):
  -c CCACHE   destroy this cache instead of the default one
  -A          destroy every cache in the collection of the cache (for a FILE
              cache, the cache itself)
  -q          quiet: no note that the cache did not exist or that other caches
              of the collection remain

Destroying a cache that does not exist is not an error (exit 0), as with MIT's
kdestroy; without -q a note on stderr says so.

examples:
  sclogon kdestroy
  sclogon kdestroy -c KCM:
  sclogon kdestroy -A
  sclogon kdestroy -q -c DIR:/run/user/1000/krb5cc

Exit codes: 0 destroyed (or there was nothing to destroy), 1 a cache could
not be destroyed, 2 usage error.
`

func init() {
	register(&command{
		name:    "kdestroy",
		summary: "destroy a credential cache, or all of a collection (-A)",
		help:    kdestroyHelp,
		run:     runKdestroy,
	})
}

const kdestroyUsage = "usage: sclogon kdestroy [-A] [-q] [-c CCACHE]; 'sclogon help kdestroy' lists the flags"

type kdestroyFlags struct {
	name       string
	all, quiet bool
}

func parseKdestroyFlags(args []string) (*kdestroyFlags, error) {
	f := &kdestroyFlags{}
	fs := flag.NewFlagSet("sclogon kdestroy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.name, "c", "", "")
	fs.BoolVar(&f.all, "A", false, "")
	fs.BoolVar(&f.quiet, "q", false, "")
	rest, err := parseInterspersed(fs, splitLetters(args, "Aq"))
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected argument %q (name the cache with -c)", rest[0])
	}
	return f, nil
}

func runKdestroy(_ context.Context, s stdio, args []string) int {
	f, err := parseKdestroyFlags(args)
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n%s\n", err, kdestroyUsage)
		return exitUsage
	}
	if err := kdestroyMain(s, f); err != nil {
		return reportCCache(s, err, kdestroyUsage)
	}
	return exitOK
}

func kdestroyMain(s stdio, f *kdestroyFlags) error {
	conf, err := loadKrb5Conf()
	if err != nil {
		return err
	}
	cache, err := openNamedCache(f.name, conf)
	if err != nil {
		return err
	}
	if f.all {
		return destroyCollection(cache)
	}
	if _, err := cache.Load(); errors.Is(err, ccache.ErrNotFound) && !f.quiet {
		fmt.Fprintf(s.errOut, "sclogon kdestroy: no credentials cache found (%s); nothing to destroy\n", cache.Name())
	}
	if err := cache.Destroy(); err != nil {
		return fmt.Errorf("the cache %s was NOT destroyed: %w", cache.Name(), err)
	}
	if !f.quiet {
		warnRemaining(s, cache)
	}
	return nil
}

// destroyCollection destroys every cache of the collection, going on past
// a failure as MIT's kdestroy -A does, and reports all failures.
func destroyCollection(cache ccache.Cache) error {
	members, err := cache.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range members {
		if err := m.Destroy(); err != nil {
			errs = append(errs, fmt.Errorf("the cache %s was NOT destroyed: %w", m.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// warnRemaining says, as MIT's kdestroy does, that the collection still
// holds other caches.
func warnRemaining(s stdio, cache ccache.Cache) {
	if rest, err := cache.List(); err == nil && len(rest) > 0 {
		fmt.Fprintf(s.errOut, "sclogon kdestroy: other credential caches remain in the collection (%s); -A destroys them all\n", rest[0].Name())
	}
}

// reportCCache explains the cache errors klist and kdestroy meet; other
// errors go to report.
func reportCCache(s stdio, err error, usage string) int {
	var hint string
	switch {
	case errors.Is(err, ccache.ErrNotFound):
		hint = "obtain a ticket with 'sclogon kinit', or name the cache with -c or KRB5CCNAME; 'sclogon klist -l' lists the caches of the collection"
	case errors.Is(err, ccache.ErrUnsupported):
		hint = "sclogon reads FILE:, DIR:, KEYRING: (Linux), KCM: and MEMORY: caches"
	default:
		return report(s, err, usage)
	}
	fmt.Fprintf(s.errOut, "sclogon: error: %v\nsclogon: hint: %s\n", err, hint)
	return exitFail
}
