//go:build linux

package ccache

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sclogon/sclogon/integration/harness"
)

// keyringsOrSkip ends the test where the kernel refuses keyrings (some
// container runtimes filter keyctl): a failure under CI=true, where the
// machine is known to allow them, a skip elsewhere.
func keyringsOrSkip(t *testing.T) {
	t.Helper()
	if _, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false); errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		harness.Missing(t, fmt.Sprintf("the kernel refuses keyrings here: %v", err))
	}
}

// testCollection returns a fresh session collection name and removes its
// keyring when the test ends.
func testCollection(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("sclogon-test-%d", rand.Uint32())
	t.Cleanup(func() {
		anchor := sessionWriteAnchor()
		if id, err := unix.KeyctlSearch(anchor, "keyring", keyringCollectionPrefix+name, 0); err == nil {
			unix.KeyctlInt(unix.KEYCTL_CLEAR, id, 0, 0, 0)
			unix.KeyctlInt(unix.KEYCTL_UNLINK, id, anchor, 0, 0)
		}
	})
	return name
}

func TestKeyringRoundTrip(t *testing.T) {
	keyringsOrSkip(t)
	coll := testCollection(t)
	alice := cacheFor("alice")
	alice.KDCOffset = -3e9 - 250e3
	roundTrip(t, mustOpen(t, "KEYRING:session:"+coll+":named", Env{}), alice)
	roundTrip(t, mustOpen(t, "KEYRING:session:"+coll, Env{}), cacheFor("bob"))
}

// TestKeyringCollection: a new principal gets a new cache that becomes
// primary; the old principal's cache is replaced in place.
func TestKeyringCollection(t *testing.T) {
	keyringsOrSkip(t)
	coll := mustOpen(t, "KEYRING:session:"+testCollection(t), Env{})
	for _, u := range []string{"alice", "bob"} {
		if err := coll.Store(cacheFor(u)); err != nil {
			t.Fatal(err)
		}
	}
	list, err := coll.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("list = %v, %v", names(list), err)
	}
	got, err := list[0].Load()
	if err != nil || got.Principal.Components[0] != "bob" {
		t.Fatalf("primary = %+v, %v; want bob's", got, err)
	}
	alice2 := cacheFor("alice")
	alice2.Credentials = alice2.Credentials[:1]
	if err := coll.Store(alice2); err != nil {
		t.Fatal(err)
	}
	if got, err := coll.Load(); err != nil || !sameCache(got, alice2) {
		t.Fatalf("after alice again: %+v, %v", got, err)
	}
	if list, _ := coll.List(); len(list) != 2 {
		t.Fatalf("alice's second store made a third cache: %v", names(list))
	}
}
