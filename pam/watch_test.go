package pam

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// scriptedCards is a CardEvents whose looks are given one by one: Changed
// returns when the test hands over the next look.
type scriptedCards struct {
	looks chan map[string]string
	cur   map[string]string
}

func (s *scriptedCards) Readers() ([]string, error) { return nil, errors.New("not polled") }

func (s *scriptedCards) Cards() (map[string]string, error) { return s.cur, nil }

func (s *scriptedCards) Changed(ctx context.Context) error {
	select {
	case s.cur = <-s.looks:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestWatchCardIdentity: with CardEvents the watch follows the card, not the
// reader: a card swapped for another that the reader never reported absent
// (same reader, another name) is a removal; a change elsewhere (another
// reader) is not; the new card is then followed.
func TestWatchCardIdentity(t *testing.T) {
	s := &scriptedCards{looks: make(chan map[string]string), cur: map[string]string{}}
	var removed []string
	var log strings.Builder
	w := &Watch{
		Presence: s,
		Reader:   "PCD",
		Log:      func(f string, a ...any) { log.WriteString(strings.TrimSpace(strings.ReplaceAll(f, "%q", "")) + "\n") },
		OnRemove: func(_ context.Context, r string) error { removed = append(removed, r); return nil },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	for _, look := range []map[string]string{
		{"Virtual PCD 00 00": "1/guid:aa"},
		{"Virtual PCD 00 00": "1/guid:aa", "Other 00 00": "1/guid:cc"}, // another reader: nothing
		{"Virtual PCD 00 00": "3/guid:bb", "Other 00 00": "1/guid:cc"}, // swapped unseen by the reader
		{"Virtual PCD 00 00": "3/guid:bb"},
		{},
	} {
		s.looks <- look
	}
	// One more look is taken only after the last one was acted on.
	s.looks <- map[string]string{}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not stop")
	}
	if len(removed) != 2 || removed[0] != "Virtual PCD 00 00" || removed[1] != "Virtual PCD 00 00" {
		t.Fatalf("removals %q; log:\n%s", removed, log.String())
	}
	if want := "card present in\ncard swapped in\ncard present in\ncard removed from\n"; log.String() != want {
		t.Fatalf("log:\n%s\nwant:\n%s", log.String(), want)
	}
}

// TestWatchReaderRule: the watch picks its reader by card selection's rule
// (selection.MatchReaders): the reader Reader names exactly wins over one
// that sorts first and only contains the name.
func TestWatchReaderRule(t *testing.T) {
	s := &scriptedCards{looks: make(chan map[string]string), cur: map[string]string{}}
	removed := make(chan string, 1)
	w := &Watch{
		Presence: s,
		Reader:   "PCD 00 00",
		Once:     true,
		OnRemove: func(_ context.Context, r string) error { removed <- r; return nil },
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	s.looks <- map[string]string{"Acme PCD 00 00": "1/guid:aa", "PCD 00 00": "1/guid:bb"}
	s.looks <- map[string]string{"Acme PCD 00 00": "1/guid:aa"}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not act on the removal")
	}
	if r := <-removed; r != "PCD 00 00" {
		t.Fatalf("removal from %q, want the reader named exactly", r)
	}
}
