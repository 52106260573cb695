package main

import (
	"context"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/vcard"
)

// serveSoftCard serves soft in the vpcd reader at addr until the test
// ends, and returns once pcscd lists exactly one reader with a card.
func serveSoftCard(t *testing.T, soft *vcard.Card, addr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); _ = soft.ServeVPCD(ctx, addr, nil) }()
	t.Cleanup(func() { cancel(); <-served })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if rs, _ := (pcsc.Provider{}).Readers(); len(rs) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("pcscd lists no card")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
