// Command sclogon is smart-card logon for Kerberos: a kinit that signs a PKINIT
// request with the key on a PIV card, and the test KDC, PKI and software card
// around it.
//
// Run `sclogon help` for the commands and `sclogon help COMMAND` for one.
//
// Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// command is one `sclogon NAME` subcommand.
type command struct {
	name    string
	summary string // one line for `sclogon help`
	help    string // the full text for `sclogon help NAME`, with examples
	// subHelp: its subcommands print their own pages ('sclogon pki enroll
	// -h'), so only a -h right after the command name asks for help.
	subHelp bool
	run     func(ctx context.Context, io stdio, args []string) int
}

// stdio is where a command reads and writes: stdout for data, stderr for people.
type stdio struct {
	in          io.Reader
	out, errOut io.Writer
}

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
	// exitInterrupted: Ctrl-C (SIGINT) ended the command, 128 + 2 as
	// shells report it.
	exitInterrupted = 130
)

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, stdio{in: os.Stdin, out: os.Stdout, errOut: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, s stdio, args []string) int {
	if len(args) == 0 {
		usage(s.errOut)
		return exitUsage
	}
	switch args[0] {
	case "--version", "-version":
		fmt.Fprintln(s.out, versionLine())
		return exitOK
	case "help", "-h", "-help", "--help":
		if page, ok := subPage(args[1:]); ok {
			fmt.Fprint(s.out, strings.TrimLeft(page, "\n"))
			return exitOK
		}
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(s.errOut, "sclogon: error: no command %q\n", args[1])
				usage(s.errOut)
				return exitUsage
			}
			fmt.Fprint(s.out, strings.TrimLeft(c.help, "\n"))
			return exitOK
		}
		usage(s.out)
		return exitOK
	}
	if gen, ok := generators[args[0]]; ok {
		return gen(s, args[1:])
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(s.errOut, "sclogon: error: no command %q\n", args[0])
		usage(s.errOut)
		return exitUsage
	}
	if page, ok := subPage(args); ok && asksHelp(args[2:], false) {
		fmt.Fprint(s.out, strings.TrimLeft(page, "\n"))
		return exitOK
	}
	if asksHelp(args[1:], c.subHelp) {
		fmt.Fprint(s.out, strings.TrimLeft(c.help, "\n"))
		return exitOK
	}
	return c.run(ctx, s, args[1:])
}

// subcommandHelp are the pages of the subcommands that have their own
// ('sclogon help kdc conform'), keyed "COMMAND SUBCOMMAND".
var subcommandHelp = map[string]string{}

// subPage is the page of the subcommand args name, if it has its own.
func subPage(args []string) (string, bool) {
	if len(args) < 2 {
		return "", false
	}
	page, ok := subcommandHelp[args[0]+" "+args[1]]
	return page, ok
}

// asksHelp reports whether a command's arguments ask for its help page
// (-h, -help or --help before any "--"; only first, for a command whose
// subcommands have their own), which every command then prints as
// 'sclogon help CMD' does.
func asksHelp(args []string, firstOnly bool) bool {
	if firstOnly && len(args) > 1 {
		args = args[:1]
	}
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// version is set at link time: go build -ldflags "-X main.version=v1.2.3".
var version string

// versionLine is "sclogon VERSION (REVISION, GO-VERSION OS/ARCH)": the
// link-time version, else the module version the build recorded.
func versionLine() string {
	v, rev := version, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = s.Value[:12] + ", "
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return fmt.Sprintf("sclogon %s (%s%s %s/%s)", v, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "sclogon: smart-card logon for Kerberos")
	fmt.Fprintln(w, "\nusage: sclogon COMMAND [arguments]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\n'sclogon help COMMAND' (or 'sclogon COMMAND --help') explains one; 'sclogon --version'")
	fmt.Fprintln(w, "prints the version. Exit codes: 0 success, 1 failure, 2 usage.")
}
