package selection_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/certs/pki"
)

// readers is a card.Provider over software cards in process: reader name to
// card state (nil: an empty reader, left out of the listing).
type readers struct {
	cards   map[string]*vcard.State
	listErr error
}

func (r *readers) Readers() ([]string, error) {
	if r.listErr != nil {
		return nil, r.listErr
	}
	var out []string
	for name, st := range r.cards {
		if st != nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

var errNoReader = errors.New("test: no such reader")

func (r *readers) Open(name string) (card.Card, error) {
	st := r.cards[name]
	if st == nil {
		return nil, errNoReader
	}
	return apdu.Open(vcard.New(st, vcard.Options{}), name, apdu.Options{})
}

type logonCert struct {
	slot card.Slot
	user string
}

func newCard(t *testing.T, p *cardtest.PKI, certs ...logonCert) *vcard.State {
	t.Helper()
	st := cardtest.NewState(t)
	for _, c := range certs {
		key := cardtest.Key(t, pki.P256)
		cardtest.Put(t, st, c.slot, key, p.Issue(t, key, cardtest.LogonProfile(c.user, "")))
	}
	return st
}

func TestSelectOneUsable(t *testing.T) {
	p := cardtest.NewPKI(t)
	prov := &readers{cards: map[string]*vcard.State{"Reader A": newCard(t, p, logonCert{card.SlotAuthentication, "alice"})}}
	asked := false
	sel, err := selection.Select(selection.Request{Provider: prov, Choose: func([]logon.Verdict) (int, error) { asked = true; return 0, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	if asked || sel.Reader() != "Reader A" || sel.Verdict.Slot != card.SlotAuthentication || sel.Verdict.Label != "alice@example.com" || sel.FromCache {
		t.Errorf("selection %+v (chooser asked %v)", sel.Verdict, asked)
	}
}

func TestSelectSeveralUsable(t *testing.T) {
	p := cardtest.NewPKI(t)
	prov := &readers{cards: map[string]*vcard.State{
		"Reader A": newCard(t, p, logonCert{card.SlotAuthentication, "alice"}),
		"Reader B": newCard(t, p, logonCert{card.SlotAuthentication, "alice-admin"}, logonCert{card.SlotKeyManagement, "alice-ops"}),
	}}
	var offered []string
	sel, err := selection.Select(selection.Request{Provider: prov, Choose: func(vs []logon.Verdict) (int, error) {
		for _, v := range vs {
			offered = append(offered, v.Label)
		}
		return 2, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	sel.Close()
	if want := []string{"alice@example.com", "alice-admin@example.com", "alice-ops@example.com"}; !slices.Equal(offered, want) {
		t.Errorf("offered %q, want %q", offered, want)
	}
	if sel.Reader() != "Reader B" || sel.Verdict.Slot != card.SlotKeyManagement {
		t.Errorf("chose %s slot %s", sel.Reader(), sel.Verdict.Slot)
	}

	// Without a chooser the choice is an error listing the certificates.
	var amb *logon.AmbiguousError
	if _, err := selection.Select(selection.Request{Provider: prov}); !errors.As(err, &amb) || len(amb.Choices) != 3 {
		t.Errorf("no chooser: %v", err)
	}
	// Pick names one without asking; a pick nothing matches is typed.
	sel, err = selection.Select(selection.Request{Provider: prov, Reader: "B", Pick: "9d"})
	if err != nil || sel.Verdict.Label != "alice-ops@example.com" {
		t.Fatalf("pick 9d in reader B: %v", err)
	}
	sel.Close()
	var nm *logon.NoMatchError
	if _, err := selection.Select(selection.Request{Provider: prov, Pick: "9e"}); !errors.As(err, &nm) {
		t.Errorf("pick 9e: %v", err)
	}
}

func TestSelectNothingUsable(t *testing.T) {
	p := cardtest.NewPKI(t)
	prov := &readers{cards: map[string]*vcard.State{"Reader A": newCard(t, p, logonCert{card.SlotSignature, "alice"})}}
	_, err := selection.Select(selection.Request{Provider: prov})
	var nu *selection.NoUsableError
	if !errors.As(err, &nu) || !errors.Is(err, logon.ErrNoUsable) || selection.Absent(err) {
		t.Fatalf("a card with a 9c certificate only: %v", err)
	}
	if len(nu.Cards) != 1 || len(nu.Cards[0].Verdicts) != 1 || nu.Cards[0].Verdicts[0].Rejections[0].Rule != logon.RuleSignatureSlot {
		t.Errorf("verdicts %+v", nu.Cards)
	}
	// The switch the rejection names admits it.
	sel, err := selection.Select(selection.Request{Provider: prov, Policy: logon.Policy{AllowSignatureKeys: true}})
	if err != nil {
		t.Fatal(err)
	}
	sel.Close()
}

func TestSelectNoCard(t *testing.T) {
	_, err := selection.Select(selection.Request{Provider: &readers{cards: map[string]*vcard.State{"Empty": nil}}})
	if !errors.Is(err, card.ErrNoCard) || !selection.Absent(err) {
		t.Errorf("no card: %v", err)
	}
	listErr := errors.New("test: the PC/SC daemon is not running")
	_, err = selection.Select(selection.Request{Provider: &readers{listErr: listErr}})
	var re *selection.ReaderError
	if !errors.As(err, &re) || !errors.Is(err, listErr) || !selection.Absent(err) {
		t.Errorf("no reader service: %v", err)
	}
	// A named reader that is not there: the provider's own error.
	_, err = selection.Select(selection.Request{Provider: &readers{cards: map[string]*vcard.State{}}, Reader: "No Such Reader"})
	if !errors.As(err, &re) || re.Reader != "No Such Reader" || !errors.Is(err, errNoReader) {
		t.Errorf("unknown reader: %v", err)
	}
}

// A card re-provisioned under a warm cache: the chosen certificate is read
// again from its slot, the stale entry dropped, and the card's own
// certificate chosen.
func TestSelectStaleCache(t *testing.T) {
	p := cardtest.NewPKI(t)
	st := newCard(t, p, logonCert{card.SlotAuthentication, "alice"})
	prov := &readers{cards: map[string]*vcard.State{"Reader A": st}}
	cache := &card.Cache{Dir: t.TempDir()}
	req := selection.Request{Provider: prov, Cache: cache}

	first, err := selection.Select(req)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	warm, err := selection.Select(req)
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()
	if first.FromCache || !warm.FromCache || !bytes.Equal(warm.Verdict.Cert.Raw, first.Verdict.Cert.Raw) {
		t.Fatalf("from cache: first %v, warm %v", first.FromCache, warm.FromCache)
	}

	key := cardtest.Key(t, pki.P256)
	fresh := p.Issue(t, key, cardtest.LogonProfile("alice-new", ""))
	cardtest.Put(t, st, card.SlotAuthentication, key, fresh)
	var trace []string
	req.Trace = func(format string, _ ...any) { trace = append(trace, format) }
	sel, err := selection.Select(req)
	if err != nil {
		t.Fatal(err)
	}
	sel.Close()
	if sel.FromCache || !bytes.Equal(sel.Verdict.Cert.Raw, fresh.Raw) {
		t.Errorf("after re-provisioning: %q (from cache %v), want the card's new certificate", sel.Verdict.Label, sel.FromCache)
	}
	if !slices.ContainsFunc(trace, func(s string) bool { return bytes.Contains([]byte(s), []byte("stale")) }) {
		t.Errorf("no stale-cache step in the trace: %q", trace)
	}
	again, err := selection.Select(req)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
	if !again.FromCache || !bytes.Equal(again.Verdict.Cert.Raw, fresh.Raw) {
		t.Errorf("the cache was not refreshed: from cache %v", again.FromCache)
	}
}

// A provider's wait for a card that ended or was cancelled is the answer
// even when a reader is named: the reader is not opened anyway (which
// would say only that it holds no card). Another listing failure is a
// ReaderError.
func TestSelectNamedReaderWaitErrors(t *testing.T) {
	p := cardtest.NewPKI(t)
	st := newCard(t, p, logonCert{card.SlotAuthentication, "alice"})
	waitEnded := fmt.Errorf("%w (test: the wait for one ended)", card.ErrNoCard)
	for _, tc := range []struct {
		name    string
		listErr error
		want    error
	}{
		{"wait ended", waitEnded, waitEnded},
		{"cancelled", fmt.Errorf("test: waiting: %w", context.Canceled), context.Canceled},
		{"deadline", context.DeadlineExceeded, context.DeadlineExceeded},
	} {
		// The named reader holds a card: opening it anyway would succeed,
		// so only a selection that returns the listing error passes.
		prov := &readers{cards: map[string]*vcard.State{"Reader A": st}, listErr: tc.listErr}
		sel, err := selection.Select(selection.Request{Provider: prov, Reader: "Reader A"})
		if err == nil {
			sel.Close()
		}
		var re *selection.ReaderError
		if !errors.Is(err, tc.want) || errors.As(err, &re) {
			t.Errorf("%s: %v, want the provider's %v", tc.name, err, tc.want)
		}
		if _, err := selection.Scan(selection.Request{Provider: prov, Reader: "Reader A"}); !errors.Is(err, tc.want) {
			t.Errorf("%s: scan: %v", tc.name, err)
		}
	}
	if !selection.Absent(waitEnded) || selection.Absent(context.Canceled) {
		t.Error("a wait that ended is no card to try; a cancelled one is not")
	}
	listErr := errors.New("test: the PC/SC daemon is not running")
	_, err := selection.Select(selection.Request{Provider: &readers{cards: map[string]*vcard.State{"Reader A": st}, listErr: listErr}, Reader: "Reader A"})
	var re *selection.ReaderError
	if !errors.As(err, &re) || !errors.Is(err, listErr) {
		t.Errorf("named reader, listing failed: %v", err)
	}
}

func TestMatchReaders(t *testing.T) {
	names := []string{"Virtual PCD 00 00", "Virtual PCD 00 01", "Yubico YubiKey 00 00"}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"", names},
		{"Virtual PCD 00 01", []string{"Virtual PCD 00 01"}},
		{"Virtual", names[:2]},
		{"Yubico", names[2:]},
		{"Nitrokey", nil},
	} {
		if got := selection.MatchReaders(names, tc.name); !slices.Equal(got, tc.want) {
			t.Errorf("MatchReaders(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
