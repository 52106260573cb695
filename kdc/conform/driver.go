package conform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sclogon/sclogon/kinit/ccache"
)

// Driver runs client commands against a conformance KDC, one fault per run.
type Driver struct {
	KDC *KDC
	// Clients are shell commands (sh -c), each a complete logon: for
	// example "kinit -X X509_user_identity=FILE:$CONFORM_DIR/client.pem,$CONFORM_DIR/client-key.pem alice".
	// The control runs with each; a fault runs with the first whose control
	// logged on with a request the fault applies to, so give one command
	// per key exchange to cover them all (DH, ECDH, RSA key transport).
	Clients []string
	// Dir holds the ccache and krb5.conf ([WriteKrb5Conf]), the clients'
	// KRB5_CONFIG; CONFORM_DIR names it to the commands. Default: the
	// PKI's directory, where WriteKrb5Conf writes.
	Dir string
	// Timeout bounds one client run (default 60 s).
	Timeout time.Duration
	// Faults to run (default [Faults]); the control is always run first.
	Faults []Fault
	// Progress, if set, gets a line per run.
	Progress io.Writer
}

// clientState is what the control learned of one client command.
type clientState struct {
	command  string
	request  *Request
	loggedOn bool
}

// Run runs the control with every client, then each fault, and returns the table.
func (d *Driver) Run(ctx context.Context) (*Report, error) {
	if len(d.Clients) == 0 {
		return nil, errors.New("conform: no client command")
	}
	if d.Dir == "" {
		d.Dir = d.KDC.pki.Dir
	}
	rep := &Report{}
	var clients []*clientState
	for _, cmd := range d.Clients {
		res, a := d.runFault(ctx, Control, cmd)
		snap := d.KDC.Snapshot(a)
		clients = append(clients, &clientState{command: cmd, request: snap.Request, loggedOn: res.Observed == Accepted})
		rep.Results = append(rep.Results, res)
	}
	for _, f := range d.faults() {
		if f.Name == Control.Name {
			continue
		}
		c := pickClient(clients, f)
		if c == nil {
			res := newResult(f, "")
			res.Observed, res.Note = NotApplicable, notRunReason(clients)
			rep.Results = append(rep.Results, res)
			continue
		}
		res, _ := d.runFault(ctx, f, c.command)
		rep.Results = append(rep.Results, res)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	return rep, nil
}

func (d *Driver) faults() []Fault {
	if d.Faults != nil {
		return d.Faults
	}
	return Faults()
}

// pickClient is the first client whose control logged on with a request f applies to.
func pickClient(clients []*clientState, f Fault) *clientState {
	for _, c := range clients {
		if c.loggedOn && c.request != nil && f.applies(*c.request) {
			return c
		}
	}
	return nil
}

func notRunReason(clients []*clientState) string {
	var asked []string
	for _, c := range clients {
		if c.loggedOn && c.request != nil {
			asked = append(asked, describe(*c.request))
		}
	}
	if len(asked) == 0 {
		return "not run: no client logged on in the control"
	}
	return "applies to none of the client's requests (" + strings.Join(asked, ", ") + ")"
}

// runFault shows f to the client command up to f.Tries times, stopping at
// the first acceptance.
func (d *Driver) runFault(ctx context.Context, f Fault, command string) (Result, *Attempt) {
	a := d.KDC.Begin(f)
	defer d.KDC.End()
	res := newResult(f, command)
	res.Observed = NoRequest
	for try := 0; try < f.Tries && ctx.Err() == nil; try++ {
		d.KDC.mu.Lock()
		a.Tries++
		d.KDC.mu.Unlock()
		run := d.runClient(ctx, command, a)
		res.Tries, res.ClientError, res.Note = try+1, run.lastLine, run.note
		snap := d.KDC.Snapshot(a)
		if snap.Request != nil {
			res.Exchange = describe(*snap.Request)
		}
		switch {
		case snap.Inapplicable != "":
			res.Observed, res.Note = NotApplicable, snap.Inapplicable
		case snap.Failed != "":
			res.Observed, res.Note = KDCFailed, snap.Failed
		case run.accepted:
			res.Observed = Accepted
		case snap.Request != nil:
			res.Observed = Refused
		}
		if d.Progress != nil {
			fmt.Fprintf(d.Progress, "conform: %s (try %d/%d): %s\n", f.Name, try+1, f.Tries, res.Observed)
		}
		if res.Observed != Refused {
			break
		}
	}
	return res, a
}

// clientRun is what one run of a client shows.
type clientRun struct {
	accepted bool
	lastLine string // the client's own last words (stderr, else stdout)
	note     string
}

// runClient runs command once with a fresh ccache. It accepted the reply
// when it holds the attempt's session key: in the ccache it wrote, or by
// having used the TGT in a TGS-REQ.
func (d *Driver) runClient(ctx context.Context, command string, a *Attempt) clientRun {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cc := filepath.Join(d.Dir, "ccache")
	os.Remove(cc)
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+filepath.Join(d.Dir, "krb5.conf"), "KRB5CCNAME=FILE:"+cc, "CONFORM_DIR="+d.Dir)
	cmd.Stdin = strings.NewReader("")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := clientRun{lastLine: lastLine(stderr.String())}
	if run.lastLine == "" {
		run.lastLine = lastLine(stdout.String())
	}
	snap := d.KDC.Snapshot(a)
	run.accepted = snap.UsedTicket || ccacheHolds(cc, &snap)
	if err == nil && !run.accepted {
		run.note = "the client exited 0 without this attempt's session key in its ccache"
	}
	if ctx.Err() != nil {
		run.note = fmt.Sprintf("the client ran longer than %v and was stopped", timeout)
	}
	return run
}

// ccacheHolds reports whether the ccache at path holds one of a's session keys.
func ccacheHolds(path string, a *Attempt) bool {
	c, err := ccache.ReadFile(path)
	if err != nil {
		return false
	}
	for _, cred := range c.Credentials {
		if a.holds(cred.Key.Value) {
			return true
		}
	}
	return false
}

// lastLine is the last line of a client's output that is not a hint (as
// sclogon prints after its error): the client's own words for what failed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.Contains(l, ": hint: ") {
			return l
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// WriteKrb5Conf writes dir/krb5.conf for clients of the KDC at addr
// (host:port): the realm's KDC, the trusted CA as pkinit_anchors, the
// conformance client identity as pkinit_identities, and extra [libdefaults]
// lines ("pkinit_dh_min_bits = 1536").
func WriteKrb5Conf(p *PKI, addr string, libdefaults []string) (string, error) {
	lib := append([]string{
		"default_realm = " + p.Realm,
		"dns_lookup_kdc = false",
		"dns_lookup_realm = false",
		"rdns = false",
		"udp_preference_limit = 1", // PKINIT replies are large: TCP first
	}, libdefaults...)
	realm := []string{
		"kdc = " + addr,
		"pkinit_anchors = FILE:" + p.AnchorPath(),
		"pkinit_identities = FILE:" + p.ClientCertPath() + "," + p.ClientKeyPath(),
	}
	conf := fmt.Sprintf("[libdefaults]\n  %s\n\n[realms]\n  %s = {\n    %s\n  }\n",
		strings.Join(lib, "\n  "), p.Realm, strings.Join(realm, "\n    "))
	path := filepath.Join(p.Dir, "krb5.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", fmt.Errorf("conform: %w", err)
	}
	return path, nil
}
