package conform

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Result is one row of the table: a fault, what a conforming client does,
// and what this one did.
type Result struct {
	Fault    string  `json:"fault"`
	Summary  string  `json:"summary"`
	Expected Outcome `json:"expected"`
	Observed Outcome `json:"observed"`
	// ClientError is the last line the client printed on stderr (its own
	// words for the refusal), when driven.
	ClientError string `json:"client_error,omitempty"`
	// Client is the command that was shown the fault (driver), or the key
	// exchange (listener).
	Client   string `json:"client,omitempty"`
	Exchange string `json:"exchange,omitempty"` // "MODP group 14", "RSA key transport", …
	Tries    int    `json:"tries"`
	Note     string `json:"note,omitempty"`
}

func newResult(f Fault, client string) Result {
	return Result{Fault: f.Name, Summary: f.Summary, Expected: f.Expected, Client: client}
}

// Finding reports a client that did not do what a conforming one does: it
// accepted a fault, or could not log on in the control.
func (r Result) Finding() bool {
	switch r.Expected {
	case Refused:
		return r.Observed == Accepted
	case Accepted:
		return r.Observed != Accepted
	}
	return false
}

// Report is the whole table.
type Report struct {
	Results []Result `json:"results"`
}

// Summary counts the table.
type Summary struct {
	Shown        int  `json:"shown"`    // faults shown to a client (not the control)
	Refused      int  `json:"refused"`  // …that it refused
	Accepted     int  `json:"accepted"` // …that it accepted: findings
	NotRun       int  `json:"not_run"`  // n/a or no request
	ControlOK    bool `json:"control_logged_on"`
	ControlCount int  `json:"controls"`
}

// Summary counts the results.
func (r *Report) Summary() Summary {
	s := Summary{ControlOK: true}
	for _, res := range r.Results {
		switch {
		case res.Expected == Accepted:
			s.ControlCount++
			s.ControlOK = s.ControlOK && res.Observed == Accepted
		case res.Observed == Accepted:
			s.Shown++
			s.Accepted++
		case res.Observed == Refused:
			s.Shown++
			s.Refused++
		default:
			s.NotRun++
		}
	}
	s.ControlOK = s.ControlOK && s.ControlCount > 0
	return s
}

// Passed reports whether the client logged on in the control and refused
// every fault shown to it.
func (r *Report) Passed() bool {
	s := r.Summary()
	return s.ControlOK && s.Accepted == 0
}

// String is the summary line.
func (s Summary) String() string {
	control := "the control logged on"
	if !s.ControlOK {
		control = "the control did NOT log on: the client cannot log on at all, so its refusals mean nothing"
	}
	return fmt.Sprintf("%d faults shown: %d refused, %d accepted; %d not run; %s", s.Shown, s.Refused, s.Accepted, s.NotRun, control)
}

// WriteText writes the table and the summary line.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tEXPECTED\tOBSERVED\tEXCHANGE\tCLIENT'S ERROR")
	for _, res := range r.Results {
		observed := string(res.Observed)
		if res.Finding() {
			observed = strings.ToUpper(observed) + " !"
		}
		why := res.ClientError
		if why == "" {
			why = res.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", res.Fault, res.Expected, observed, orDash(res.Exchange), orDash(why))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, r.Summary())
	return err
}

// WriteJSON writes the results and the summary as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Results []Result `json:"results"`
		Summary Summary  `json:"summary"`
		Passed  bool     `json:"passed"`
	}{r.Results, r.Summary(), r.Passed()})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
