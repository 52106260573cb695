package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/kinit/ccache"
)

const klistHelp = `
usage: sclogon klist [-c] [-l | -A] [-f] [-e] [-a [-n]] [-s | -t] [--json] [CCACHE]

Lists the tickets in a credential cache, as MIT's klist does, for hosts
without MIT's tools. It reads every cache type sclogon kinit writes: FILE,
DIR (a collection, or one cache DIR::dir/tktNAME), KEYRING (session, user,
persistent), KCM (sssd-kcm, Heimdal's kcm) and, within one process, MEMORY.

The cache is CCACHE, else KRB5CCNAME, else krb5.conf's default_ccache_name
(with MIT's %{uid}-style expansions), else FILE:/tmp/krb5cc_UID. A collection
name (DIR:dir, KEYRING:persistent:UID, KCM:) stands for its primary cache.

flags (MIT klist's letters and meanings; letters may be combined, -fe):
  -c          read a credential cache (the only mode; MIT's -k keytab mode is
              not offered); the cache is the CCACHE argument, so both
              'klist -c CCACHE' and 'klist CCACHE' work
  -l          list the caches of the collection: principal, cache name, and
              "(Expired)" for a cache without a current ticket
  -A          show every cache of the collection, primary first
  -f          show each ticket's flags, in MIT's letters:
                F forwardable    f forwarded      P proxiable   p proxy
                D may-postdate   d postdated      i invalid     R renewable
                I initial        H hardware-auth  A preauthenticated
                T transit-policy-checked          O ok-as-delegate
                a anonymous
  -e          show the session key's and the ticket's encryption types
  -a          show the addresses each ticket is bound to ("(none)" when it is
              usable from anywhere, as sclogon kinit's tickets are)
  -n          with -a, show addresses as numbers, without reverse lookups
  -s          print nothing; only the exit status says whether the cache
              holds a valid ticket
  -t          print the listing, and exit 1 if the cache holds no valid ticket
              (Heimdal's klist --test; MIT's -t is a keytab option)
  --json      print the caches and their tickets as JSON on stdout: times in
              RFC 3339 UTC, flags in the letters above, etypes as numbers

A cache holds a valid ticket, as MIT decides it, when its TGT for its own
realm (krbtgt/REALM@REALM) has not expired, or, in a cache without such a
TGT, when any ticket has not. Times are shown in local time in the layout
MIT's klist uses in the C locale (MM/DD/YY HH:MM:SS).

examples:
  sclogon klist
  sclogon klist -fe
  sclogon klist -c KCM:
  sclogon klist -l
  sclogon klist -A -f
  sclogon klist -s && echo "a ticket is there"
  sclogon klist --json -c DIR:/run/user/1000/krb5cc

Exit codes: 0 the cache was listed (with -s or -t: and holds a valid ticket;
with -l or -A: at least one cache was found), 1 no cache, or no valid ticket
with -s or -t, 2 usage error.
`

func init() {
	register(&command{
		name:    "klist",
		summary: "list the tickets in a credential cache (MIT klist's options)",
		help:    klistHelp,
		run:     runKlist,
	})
}

const klistUsage = "usage: sclogon klist [-c] [-l | -A] [-f] [-e] [-a [-n]] [-s | -t] [--json] [CCACHE]; 'sclogon help klist' lists the flags"

type klistFlags struct {
	name                            string
	list, all                       bool
	flags, etypes, addrs, noResolve bool
	silent, test, json              bool
}

func parseKlistFlags(args []string) (*klistFlags, error) {
	f := &klistFlags{}
	fs := flag.NewFlagSet("sclogon klist", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("c", false, "")
	fs.BoolVar(&f.list, "l", false, "")
	fs.BoolVar(&f.all, "A", false, "")
	fs.BoolVar(&f.flags, "f", false, "")
	fs.BoolVar(&f.etypes, "e", false, "")
	fs.BoolVar(&f.addrs, "a", false, "")
	fs.BoolVar(&f.noResolve, "n", false, "")
	fs.BoolVar(&f.silent, "s", false, "")
	fs.BoolVar(&f.test, "t", false, "")
	fs.BoolVar(&f.json, "json", false, "")
	names, err := parseInterspersed(fs, splitLetters(args, "clAfeanst"))
	if err != nil {
		return nil, err
	}
	if len(names) > 1 {
		return nil, fmt.Errorf("one cache at most, got %q", names)
	}
	if len(names) == 1 {
		f.name = names[0]
	}
	return f, f.check()
}

// check refuses the combinations MIT's klist refuses, and ours.
func (f *klistFlags) check() error {
	switch {
	case f.noResolve && !f.addrs:
		return errors.New("-n goes with -a")
	case f.list && f.all:
		return errors.New("-l and -A contradict each other; give one")
	case f.list && (f.silent || f.test):
		return errors.New("-l lists caches; -s and -t test one")
	case f.silent && f.test:
		return errors.New("-s and -t contradict each other; give one")
	case f.silent && f.json:
		return errors.New("-s prints nothing; leave out --json")
	}
	return nil
}

// parseInterspersed parses flags that may follow the arguments, as MIT's
// getopt allows; it returns the arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// splitLetters turns "-fe" into "-f" "-e", as getopt reads combined
// letters, when every letter is one of the boolean flags in letters.
func splitLetters(args []string, letters string) []string {
	var out []string
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' || strings.Trim(a[1:], letters) != "" {
			out = append(out, a)
			continue
		}
		for _, c := range a[1:] {
			out = append(out, "-"+string(c))
		}
	}
	return out
}

func runKlist(_ context.Context, s stdio, args []string) int {
	f, err := parseKlistFlags(args)
	if err != nil {
		fmt.Fprintf(s.errOut, "sclogon: error: %v\n%s\n", err, klistUsage)
		return exitUsage
	}
	code, err := klistMain(s, f, time.Now())
	if err != nil {
		if !f.silent {
			reportCCache(s, err, klistUsage)
		}
		return exitFail
	}
	return code
}

// loadedCache is one cache as klist shows it.
type loadedCache struct {
	name string // the cache's own name: a collection's primary, not the collection
	cc   *ccache.CCache
}

func klistMain(s stdio, f *klistFlags, now time.Time) (int, error) {
	conf, err := loadKrb5Conf()
	if err != nil {
		return exitFail, err
	}
	cache, err := openNamedCache(f.name, conf)
	if err != nil {
		return exitFail, err
	}
	var caches []loadedCache
	if f.list || f.all {
		caches, err = loadCollection(cache)
	} else {
		var c loadedCache
		c, err = loadOne(cache)
		caches = []loadedCache{c}
	}
	if err != nil {
		return exitFail, err
	}
	code := klistStatus(caches, f, now)
	switch {
	case f.silent:
	case f.json:
		err = printKlistJSON(s.out, caches, now)
	case f.list:
		printCacheList(s.out, caches, now)
	default:
		for i, c := range caches {
			if i > 0 {
				fmt.Fprintln(s.out)
			}
			printCache(s.out, c, f)
		}
	}
	return code, err
}

// klistStatus is the exit code: with -s or -t, whether a cache holds a
// valid ticket; with -l or -A, whether any cache was found.
func klistStatus(caches []loadedCache, f *klistFlags, now time.Time) int {
	valid := false
	for _, c := range caches {
		valid = valid || hasValidTicket(c.cc, now)
	}
	switch {
	case (f.silent || f.test) && !valid, len(caches) == 0:
		return exitFail
	}
	return exitOK
}

// loadOne reads one cache; a collection name reads its primary.
func loadOne(cache ccache.Cache) (loadedCache, error) {
	cc, err := cache.Load()
	if err != nil {
		return loadedCache{}, err
	}
	return loadedCache{name: ownName(cache), cc: cc}, nil
}

// loadCollection reads the caches of the collection cache belongs to,
// primary first, skipping those that vanish or hold no principal meanwhile,
// as MIT's cursor does.
func loadCollection(cache ccache.Cache) ([]loadedCache, error) {
	members, err := cache.List()
	if err != nil {
		return nil, err
	}
	var out []loadedCache
	for _, m := range members {
		if cc, err := m.Load(); err == nil {
			out = append(out, loadedCache{name: m.Name(), cc: cc})
		}
	}
	return out, nil
}

// ownName is the name of the cache a name stands for, as MIT prints it: a
// collection (DIR:dir, KEYRING:persistent:0, KCM:) is shown as its primary
// (DIR::dir/tktX, KEYRING:persistent:0:krb_ccache_X, KCM:0:12345), which
// its List returns first.
func ownName(cache ccache.Cache) string {
	members, err := cache.List()
	if err != nil || len(members) == 0 {
		return cache.Name()
	}
	for _, m := range members {
		if m.Name() == cache.Name() {
			return cache.Name()
		}
	}
	return members[0].Name()
}

// hasValidTicket decides as MIT's check_ccache: the cache's TGT for its own
// realm must be current if there is one; else any ticket must be.
func hasValidTicket(cc *ccache.CCache, now time.Time) bool {
	foundTGT, currentTGT, currentOther := false, false, false
	for _, cr := range cc.Credentials {
		current := cr.EndTime.After(now)
		switch {
		case isLocalTGT(cr.Server, cc.Principal.Realm):
			foundTGT = true
			currentTGT = currentTGT || current
		case !isConfig(cr):
			currentOther = currentOther || current
		}
	}
	if foundTGT {
		return currentTGT
	}
	return currentOther
}

func isLocalTGT(p ccache.Principal, realm string) bool {
	return len(p.Components) == 2 && p.Components[0] == "krbtgt" && p.Components[1] == realm && p.Realm == realm
}

// isConfig reports a krb5_cc_set_config entry, which is not a ticket.
func isConfig(cr ccache.Credential) bool { return cr.Server.Realm == ccache.ConfigRealm }

// mitTimeLayout is MIT klist's time column in the C locale ("%x %X").
const mitTimeLayout = "01/02/06 15:04:05"

func mitTime(t time.Time) string { return t.Local().Format(mitTimeLayout) }

// printCache writes one cache in MIT klist's layout.
func printCache(w io.Writer, c loadedCache, f *klistFlags) {
	def := unparse(c.cc.Principal)
	fmt.Fprintf(w, "Ticket cache: %s\nDefault principal: %s\n\n", c.name, def)
	pad := len(mitTimeLayout) + 2
	fmt.Fprintf(w, "%-*s%-*sService principal\n", pad, "Valid starting", pad, "Expires")
	for _, cr := range c.cc.Credentials {
		if !isConfig(cr) {
			printCredential(w, cr, def, f)
		}
	}
}

// printCredential follows MIT's show_credential: the times and service on
// one line, then "for client", "renew until", "Flags:" and the etypes on a
// tab-indented line (two lines when there are more than three of them).
func printCredential(w io.Writer, cr ccache.Credential, def string, f *klistFlags) {
	start := cr.StartTime
	if start.IsZero() {
		start = cr.AuthTime
	}
	fmt.Fprintf(w, "%s  %s  %s\n", mitTime(start), mitTime(cr.EndTime), unparse(cr.Server))
	var extra []string // the fields of the current line
	weight := 0        // MIT's extra_field: "renew until" counts twice
	add := func(field string, n int) {
		extra = append(extra, field)
		weight += n
	}
	flush := func() {
		if len(extra) > 0 {
			fmt.Fprintf(w, "\t%s\n", strings.Join(extra, ", "))
		}
		extra, weight = nil, 0
	}
	if client := unparse(cr.Client); client != def {
		add("for client "+client, 1)
	}
	if !cr.RenewTill.IsZero() {
		add("renew until "+mitTime(cr.RenewTill), 2)
	}
	if letters := flagLetters(cr.Flags); f.flags && letters != "" {
		add("Flags: "+letters, 1)
	}
	if weight > 2 {
		flush()
	}
	tkt, tktOK := parseTicketInfo(cr.Ticket)
	if f.etypes && tktOK {
		add(fmt.Sprintf("Etype (skey, tkt): %s, %s ", etypeName(cr.Key.EType), etypeName(tkt.etype)), 1)
	}
	flush()
	if f.addrs {
		fmt.Fprintf(w, "\tAddresses: %s\n", addressList(cr.Addresses, !f.noResolve))
	}
	if tktOK && !samePrincipal(tkt.server, cr.Server) {
		fmt.Fprintf(w, "\tTicket server: %s\n", unparse(tkt.server))
	}
}

// printCacheList is klist -l: one line per cache.
func printCacheList(w io.Writer, caches []loadedCache, now time.Time) {
	fmt.Fprintf(w, "%-30s %s\n%-30s %s\n", "Principal name", "Cache name", "--------------", "----------")
	for _, c := range caches {
		name := unparse(c.cc.Principal)
		if len(name) > 30 {
			name = name[:30]
		}
		expired := ""
		if !hasValidTicket(c.cc, now) {
			expired = " (Expired)"
		}
		fmt.Fprintf(w, "%-30s %s%s\n", name, c.name, expired)
	}
}

// mitFlagLetters are MIT klist's letters, in its order, for the
// TicketFlags bits of RFC 4120 §5.3 (bit 0 is the ccache's 1<<31).
var mitFlagLetters = []struct {
	bit    int
	letter byte
}{
	{1, 'F'},  // forwardable
	{2, 'f'},  // forwarded
	{3, 'P'},  // proxiable
	{4, 'p'},  // proxy
	{5, 'D'},  // may-postdate
	{6, 'd'},  // postdated
	{7, 'i'},  // invalid
	{8, 'R'},  // renewable
	{9, 'I'},  // initial
	{11, 'H'}, // hw-authent
	{10, 'A'}, // pre-authent
	{12, 'T'}, // transited-policy-checked
	{13, 'O'}, // ok-as-delegate
	{14, 'a'}, // anonymous (RFC 6112 §3)
}

func flagLetters(flags uint32) string {
	var b []byte
	for _, f := range mitFlagLetters {
		if flags&(1<<(31-f.bit)) != 0 {
			b = append(b, f.letter)
		}
	}
	return string(b)
}

// etypeNames are MIT's names (krb5_enctype_to_name) for the encryption
// types of RFC 3961, 3962, 4757, 6803 and 8009; MIT marks the deprecated.
var etypeNames = map[int32]string{
	6:  "DEPRECATED:des3-cbc-raw",
	16: "DEPRECATED:des3-cbc-sha1",
	17: "aes128-cts-hmac-sha1-96",
	18: "aes256-cts-hmac-sha1-96",
	19: "aes128-cts-hmac-sha256-128",
	20: "aes256-cts-hmac-sha384-192",
	23: "DEPRECATED:arcfour-hmac",
	24: "DEPRECATED:arcfour-hmac-exp",
	25: "camellia128-cts-cmac",
	26: "camellia256-cts-cmac",
}

func etypeName(e int32) string {
	if n, ok := etypeNames[e]; ok {
		return n
	}
	return fmt.Sprintf("etype %d", e)
}

// Address types, RFC 4120 §7.5.3.
const (
	addrIPv4    = 2
	addrNetBIOS = 20
	addrIPv6    = 24
)

func addressList(addrs []ccache.Address, resolve bool) string {
	if len(addrs) == 0 {
		return "(none)"
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = addressString(a, resolve)
	}
	return strings.Join(out, ", ")
}

func addressString(a ccache.Address, resolve bool) string {
	switch {
	case (a.Type == addrIPv4 && len(a.Data) == 4) || (a.Type == addrIPv6 && len(a.Data) == 16):
		ip := net.IP(a.Data).String()
		if resolve {
			if names, err := net.LookupAddr(ip); err == nil && len(names) > 0 {
				return strings.TrimSuffix(names[0], ".")
			}
		}
		return ip
	case a.Type == addrNetBIOS && len(a.Data) == 16:
		return strings.TrimRight(string(a.Data[:15]), " \x00")
	case a.Type == addrIPv4 || a.Type == addrIPv6 || a.Type == addrNetBIOS:
		return fmt.Sprintf("broken address (type %d length %d)", a.Type, len(a.Data))
	}
	return fmt.Sprintf("unknown addrtype %d", a.Type)
}

// unparse writes a principal as krb5_unparse_name does, with "/", "@" and
// "\" in a component (and "@", "\" in the realm) escaped by a backslash, so
// an enterprise name reads alice\@example.com@REALM.
func unparse(p ccache.Principal) string {
	comps := make([]string, len(p.Components))
	for i, c := range p.Components {
		comps[i] = escapeName(c, `/@\`)
	}
	return strings.Join(comps, "/") + "@" + escapeName(p.Realm, `@\`)
}

func escapeName(s, special string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case strings.ContainsRune(special, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == 0:
			b.WriteString(`\0`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ticketInfo is what klist shows of a ticket without its key: the service
// it was issued to and the etype of its encrypted part.
type ticketInfo struct {
	server ccache.Principal
	etype  int32
}

// parseTicketInfo reads a DER Ticket (RFC 4120 §5.3): [APPLICATION 1]
// SEQUENCE { tkt-vno [0], realm [1], sname [2], enc-part [3] }. ok is false
// for anything else, trailing data included.
func parseTicketInfo(der []byte) (t ticketInfo, ok bool) {
	in := cryptobyte.String(der)
	var app, seq cryptobyte.String
	if !in.ReadASN1(&app, cbasn1.Tag(1).Constructed()|0x40) || !in.Empty() ||
		!app.ReadASN1(&seq, cbasn1.SEQUENCE) || !app.Empty() {
		return t, false
	}
	var vno int64
	var realm, sname, enc cryptobyte.String
	if !readExplicit(&seq, 0, func(s *cryptobyte.String) bool { return s.ReadASN1Integer(&vno) }) ||
		!readExplicit(&seq, 1, func(s *cryptobyte.String) bool { return s.ReadASN1(&realm, cbasn1.Tag(27)) }) ||
		!readExplicit(&seq, 2, func(s *cryptobyte.String) bool { return s.ReadASN1(&sname, cbasn1.SEQUENCE) }) ||
		!readExplicit(&seq, 3, func(s *cryptobyte.String) bool { return s.ReadASN1(&enc, cbasn1.SEQUENCE) }) ||
		!seq.Empty() || vno != 5 {
		return t, false
	}
	t.server.Realm = string(realm)
	if !parsePrincipalName(sname, &t.server) {
		return t, false
	}
	var etype int64
	if !readExplicit(&enc, 0, func(s *cryptobyte.String) bool { return s.ReadASN1Integer(&etype) }) ||
		etype < -1<<31 || etype >= 1<<31 {
		return t, false
	}
	t.etype = int32(etype)
	return t, true
}

// parsePrincipalName reads PrincipalName (RFC 4120 §5.2.2): SEQUENCE {
// name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString }.
func parsePrincipalName(s cryptobyte.String, p *ccache.Principal) bool {
	var nt int64
	var names cryptobyte.String
	if !readExplicit(&s, 0, func(s *cryptobyte.String) bool { return s.ReadASN1Integer(&nt) }) ||
		!readExplicit(&s, 1, func(s *cryptobyte.String) bool { return s.ReadASN1(&names, cbasn1.SEQUENCE) }) ||
		!s.Empty() || nt < -1<<31 || nt >= 1<<31 {
		return false
	}
	p.NameType = int32(nt)
	for !names.Empty() {
		var c cryptobyte.String
		if !names.ReadASN1(&c, cbasn1.Tag(27)) {
			return false
		}
		p.Components = append(p.Components, string(c))
	}
	return true
}

// readExplicit reads the context-specific [n] wrapper and lets read parse
// exactly its contents.
func readExplicit(s *cryptobyte.String, n int, read func(*cryptobyte.String) bool) bool {
	var inner cryptobyte.String
	return s.ReadASN1(&inner, cbasn1.Tag(n).ContextSpecific().Constructed()) && read(&inner) && inner.Empty()
}

type klistJSON struct {
	Caches []klistCacheJSON `json:"caches"`
}

type klistCacheJSON struct {
	Name      string            `json:"name"`
	Principal string            `json:"principal"`
	Valid     bool              `json:"valid"`
	Tickets   []klistTicketJSON `json:"tickets"`
}

type klistTicketJSON struct {
	Client       string    `json:"client"`
	Server       string    `json:"server"`
	TicketServer string    `json:"ticket_server,omitempty"`
	AuthTime     time.Time `json:"auth_time"`
	StartTime    time.Time `json:"start_time"`
	EndTime      time.Time `json:"end_time"`
	RenewTill    time.Time `json:"renew_till,omitzero"`
	Flags        string    `json:"flags"`
	SessionEType int32     `json:"session_etype"`
	TicketEType  int32     `json:"ticket_etype,omitempty"`
	Addresses    []string  `json:"addresses"`
}

func printKlistJSON(w io.Writer, caches []loadedCache, now time.Time) error {
	out := klistJSON{Caches: []klistCacheJSON{}}
	for _, c := range caches {
		cj := klistCacheJSON{Name: c.name, Principal: unparse(c.cc.Principal), Valid: hasValidTicket(c.cc, now), Tickets: []klistTicketJSON{}}
		for _, cr := range c.cc.Credentials {
			if !isConfig(cr) {
				cj.Tickets = append(cj.Tickets, ticketJSONOf(cr))
			}
		}
		out.Caches = append(out.Caches, cj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func ticketJSONOf(cr ccache.Credential) klistTicketJSON {
	start := cr.StartTime
	if start.IsZero() {
		start = cr.AuthTime
	}
	t := klistTicketJSON{
		Client: unparse(cr.Client), Server: unparse(cr.Server),
		AuthTime: cr.AuthTime.UTC(), StartTime: start.UTC(), EndTime: cr.EndTime.UTC(), RenewTill: cr.RenewTill.UTC(),
		Flags: flagLetters(cr.Flags), SessionEType: cr.Key.EType, Addresses: []string{},
	}
	if tkt, ok := parseTicketInfo(cr.Ticket); ok {
		t.TicketEType = tkt.etype
		if !samePrincipal(tkt.server, cr.Server) {
			t.TicketServer = unparse(tkt.server)
		}
	}
	for _, a := range cr.Addresses {
		t.Addresses = append(t.Addresses, addressString(a, false))
	}
	return t
}
