//go:build cgo && (linux || freebsd || openbsd)

package pcsc

import (
	"errors"

	"github.com/sclogon/sclogon/card"
)

// PINPad is a reader's PIN pad reached through a PC/SC session of its own,
// for a client that holds no handle of ours on the card (piv-go). Each use
// connects to the card, has the person type on the reader, and leaves the
// card as it is: a PIN verified stays verified for the client's session.
type PINPad struct {
	reader         string
	verify, modify uint32
	// Notice, if set, is called right before the reader waits for the PIN.
	Notice func(reader string)
}

// FindPINPad asks reader for its PC/SC part 10 features: the PIN pad, or
// nil when the reader has none (or holds no card to ask through).
func FindPINPad(reader string) *PINPad {
	var pad *PINPad
	_ = withConn(reader, func(conn *Conn) error {
		resp, err := conn.Control(ioctlGetFeatureRequest, nil)
		if err != nil {
			return err
		}
		fs, err := features(resp)
		if err == nil && fs[featureVerifyPINDirect] != 0 {
			pad = &PINPad{reader: reader, verify: fs[featureVerifyPINDirect], modify: fs[featureModifyPINDirect]}
		}
		return err
	})
	return pad
}

// Reader names the reader.
func (p *PINPad) Reader() string { return p.reader }

// Verify has the person type the PIN for role on the reader (VERIFY); a
// wrong one is a [*card.PINError] with the tries left, as from the keyboard.
func (p *PINPad) Verify(role card.PINRole) error {
	return p.run(p.verify, verifyStructure(0, role.KeyRef()), "VERIFY", role)
}

// Change has the person type the current PIN for role, the new one and its
// confirmation on the reader (CHANGE REFERENCE DATA).
func (p *PINPad) Change(role card.PINRole) error {
	if p.modify == 0 {
		return errors.New("pcsc: the PIN pad of " + p.reader + " cannot change a PIN; type the PINs on the host instead")
	}
	return p.run(p.modify, modifyStructure(0, role.KeyRef()), "CHANGE REFERENCE DATA", role)
}

// Unblock has the person type the PUK, the new PIN and its confirmation on
// the reader (RESET RETRY COUNTER); a wrong PUK is a [*card.PINError] with
// PUK set.
func (p *PINPad) Unblock() error {
	if p.modify == 0 {
		return errors.New("pcsc: the PIN pad of " + p.reader + " cannot unblock a PIN; type the PUK and the new PIN on the host instead")
	}
	return p.run(p.modify, unblockStructure(0), "RESET RETRY COUNTER", card.RolePUK)
}

func (p *PINPad) run(code uint32, structure []byte, op string, role card.PINRole) error {
	return withConn(p.reader, func(conn *Conn) error {
		if p.Notice != nil {
			p.Notice(p.reader)
		}
		resp, err := conn.Control(code, structure)
		if err != nil {
			return err
		}
		return padStatus(op+" on the PIN pad", resp, role)
	})
}

// withConn runs f on a session with the card in reader and leaves the card
// as it is.
func withConn(reader string, f func(*Conn) error) error {
	ctx, err := Establish()
	if err != nil {
		return err
	}
	defer ctx.Release()
	conn, err := ctx.Connect(reader)
	if err != nil {
		return err
	}
	err = f(conn)
	return errors.Join(err, conn.Leave())
}
