package vcard

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// pivAIDFull is the PIV Card Application AID with its version
// (SP 800-73-4 Part 1 §2.2); SELECT accepts any prefix of at least the RID
// and PIX 0000 (A0 00 00 03 08).
var pivAIDFull = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// atr advertises T=1 only, which is what piv-go connects with: TS 3B,
// T0 80 (TD1 follows, no historical bytes), TD1 80 (TD2 follows, T=0),
// TD2 01 (T=1), TCK.
var atr = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

// maxCommandData bounds what command chaining may accumulate.
const maxCommandData = 1 << 16

// ErrPoweredOff is returned by [Card.Transmit] while the card has no power.
var ErrPoweredOff = errors.New("vcard: the card is powered off")

// Options tune a [Card].
type Options struct {
	// Generic makes a plain SP 800-73-4 card: no YubiKey extensions (GET
	// VERSION, GET SERIAL, METADATA, SET MANAGEMENT KEY, IMPORT KEY, RESET,
	// SET PIN RETRIES answer 6D00). piv-go cannot open such a card.
	Generic bool
	// Trace, if set, receives one line per command and response APDU, with
	// secrets (PINs, PUKs, management keys and their challenges, private
	// key results) redacted.
	Trace io.Writer
	// Rand is the source of randomness for challenges, ECDSA signatures and
	// key generation; crypto/rand if nil.
	Rand io.Reader
	// Save is called, with the card's lock held, after every change to the
	// state: before a PIN, PUK or management key is compared, the decremented
	// retry counter is saved. If Save fails the card answers 6581 (memory
	// failure) and compares nothing.
	Save func(*State) error
	// Observe, if set, is called after every command APDU with its header
	// and status word (never its data).
	Observe func(Exchange)
}

// Exchange describes one command APDU the card answered.
type Exchange struct {
	CLA, INS, P1, P2 byte
	Nc               int // length of the command data in this APDU
	SW               uint16
}

// Card is a software PIV card. Drive it with [Card.Transmit] in process, or
// plug it into pcscd with [Card.ServeVPCD]. Its methods are safe for
// concurrent use; commands are answered one at a time.
type Card struct {
	opt  Options
	rand io.Reader

	mu      sync.Mutex
	st      *State
	powered bool
	// Security status: cleared by reset and power-off (SP 800-73-4 Part 2 §3).
	selected    bool
	pinVerified bool
	pinFresh    bool // the PIN was verified by the latest command, for PINPolicyAlways
	// globalVerified: the global PIN was verified; byGlobal: it is what
	// satisfies the access rules (pinVerified).
	globalVerified, byGlobal bool
	mgmAuthed                bool
	// An outstanding management-key witness (tag 80) or challenge (tag 81).
	mgmTag       byte
	mgmChallenge []byte
	chain        *chain
	pending      []byte // response data left for GET RESPONSE
	pendingQuiet bool   // pending is secret: trace its length only

	apdus atomic.Uint64
}

// chain is a command being assembled from CLA 10 parts (ISO/IEC 7816-4 §5.1.1.1).
type chain struct {
	ins, p1, p2 byte
	data        []byte
}

// New returns a powered-on card holding st. The card keeps st and changes
// it in place; it calls opt.Save after each change.
func New(st *State, opt Options) *Card {
	c := &Card{opt: opt, rand: opt.Rand, st: st, powered: true}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	return c
}

// ATR is the card's answer to reset.
func (c *Card) ATR() []byte { return bytes.Clone(atr) }

// PowerOn powers the card; its security status starts cleared.
func (c *Card) PowerOn() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearSession()
	c.powered = true
	c.tracef("power on")
}

// PowerOff removes power: the PIN and management key must be presented
// again afterwards.
func (c *Card) PowerOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearSession()
	c.powered = false
	c.tracef("power off")
}

// Reset is a warm reset: it clears the security status as power-off does.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearSession()
	c.powered = true
	c.tracef("reset")
}

func (c *Card) clearSession() {
	c.selected, c.pinVerified, c.pinFresh, c.mgmAuthed = false, false, false, false
	c.globalVerified, c.byGlobal = false, false
	c.mgmTag, c.mgmChallenge = 0, nil
	c.chain, c.pending, c.pendingQuiet = nil, nil, false
}

// APDUs is how many command APDUs the card has received.
func (c *Card) APDUs() uint64 { return c.apdus.Load() }

// Snapshot returns a copy of the card's state, taken between commands: what
// a test inspects while the card serves another goroutine (or pcscd).
func (c *Card) Snapshot() (*State, error) {
	c.mu.Lock()
	data, err := c.st.MarshalBinary()
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	st := &State{}
	if err := st.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return st, nil
}

// State returns the card's state. Hold no reference across commands from
// another goroutine: the card changes it; use [Card.Snapshot] there.
func (c *Card) State() *State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// Transmit processes one command APDU and returns the response APDU: data
// followed by the two status bytes. The error is non-nil only while the
// card is powered off.
func (c *Card) Transmit(apdu []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.powered {
		return nil, ErrPoweredOff
	}
	c.apdus.Add(1)
	cmd, ok := parseCommand(apdu)
	var data []byte
	var sw uint16
	quietCmd, quietResp := false, false
	if !ok {
		sw = swWrongLength
		c.chain, c.pending = nil, nil
	} else {
		quietCmd, quietResp = secretData(cmd)
		data, sw, quietResp = c.process(cmd, quietResp)
	}
	resp := make([]byte, 0, len(data)+2)
	resp = append(append(resp, data...), byte(sw>>8), byte(sw))
	if c.opt.Trace != nil {
		c.traceAPDU(apdu, cmd, ok, quietCmd, resp, quietResp)
	}
	if c.opt.Observe != nil && len(apdu) >= 4 {
		c.opt.Observe(Exchange{CLA: apdu[0], INS: apdu[1], P1: apdu[2], P2: apdu[3], Nc: len(cmd.data), SW: sw})
	}
	return resp, nil
}

// process handles chaining, GET RESPONSE and Le around the command handlers.
func (c *Card) process(cmd command, quiet bool) ([]byte, uint16, bool) {
	switch {
	case cmd.cla&0x0C != 0:
		c.chain, c.pending = nil, nil
		return nil, swSecureMessaging, quiet
	case cmd.cla&^0x10 != 0:
		c.chain, c.pending = nil, nil
		return nil, swCLANotSupported, quiet
	}
	if cmd.ins == 0xC0 && cmd.cla == 0 { // GET RESPONSE
		if c.chain != nil || len(c.pending) == 0 {
			c.chain, c.pending = nil, nil
			return nil, swConditions, quiet
		}
		if cmd.p1 != 0 || cmd.p2 != 0 {
			return nil, swIncorrectP1P2, quiet
		}
		data, sw := c.respond(c.pending, cmd.ne)
		return data, sw, c.pendingQuiet
	}
	c.pending, c.pendingQuiet = nil, false

	if c.chain != nil && (c.chain.ins != cmd.ins || c.chain.p1 != cmd.p1 || c.chain.p2 != cmd.p2) {
		// A different command abandons the chain.
		c.chain = nil
	}
	if cmd.cla&0x10 != 0 {
		if c.chain == nil {
			c.chain = &chain{ins: cmd.ins, p1: cmd.p1, p2: cmd.p2}
		}
		if len(c.chain.data)+len(cmd.data) > maxCommandData {
			c.chain = nil
			return nil, swNoSpace, quiet
		}
		c.chain.data = append(c.chain.data, cmd.data...)
		return nil, swOK, quiet
	}
	if c.chain != nil {
		if len(c.chain.data)+len(cmd.data) > maxCommandData {
			c.chain = nil
			return nil, swNoSpace, quiet
		}
		cmd.data = append(c.chain.data, cmd.data...)
		c.chain = nil
	}

	data, sw := c.dispatch(cmd)
	if !(cmd.ins == 0x87 && cmd.p2 == SlotManagement) {
		c.mgmTag, c.mgmChallenge = 0, nil
	}
	if cmd.ins != 0x20 {
		c.pinFresh = false
	}
	if sw != swOK {
		return data, sw, quiet
	}
	c.pendingQuiet = quiet
	data, sw = c.respond(data, cmd.ne)
	return data, sw, quiet
}

// respond returns at most ne bytes of data and keeps the rest for GET
// RESPONSE, announcing it with 61xx (xx = 00 for 256 or more).
func (c *Card) respond(data []byte, ne int) ([]byte, uint16) {
	if len(data) <= ne {
		c.pending = nil
		return data, swOK
	}
	c.pending = data[ne:]
	return data[:ne], swBytesRemaining | uint16(min(len(c.pending), 256)&0xFF)
}

func (c *Card) dispatch(cmd command) ([]byte, uint16) {
	if cmd.ins == 0xA4 {
		return c.selectApp(cmd)
	}
	if !c.selected {
		return nil, swConditions
	}
	switch cmd.ins {
	case 0xCB:
		return c.getData(cmd)
	case 0xDB:
		return nil, c.putData(cmd)
	case 0x20:
		return nil, c.verify(cmd)
	case 0x24:
		return nil, c.changeReference(cmd)
	case 0x2C:
		return nil, c.resetRetryCounter(cmd)
	case 0x87:
		return c.generalAuthenticate(cmd)
	case 0x47:
		return c.generateKeyPair(cmd)
	}
	if !c.opt.Generic {
		switch cmd.ins {
		case 0xFD:
			return c.getVersion(cmd)
		case 0xF8:
			return c.getSerial(cmd)
		case 0xF7:
			return c.getMetadata(cmd)
		case 0xFF:
			return nil, c.setManagementKey(cmd)
		case 0xFE:
			return nil, c.importKey(cmd)
		case 0xFB:
			return nil, c.resetApplication(cmd)
		case 0xFA:
			return nil, c.setPINRetries(cmd)
		}
	}
	return nil, swINSNotSupported
}

// save hands the state to Options.Save; false means the card must not go on.
func (c *Card) save() bool {
	if c.opt.Save == nil {
		return true
	}
	if err := c.opt.Save(c.st); err != nil {
		c.tracef("state not saved: %v", err)
		return false
	}
	return true
}

func (c *Card) tracef(format string, args ...any) {
	if c.opt.Trace != nil {
		fmt.Fprintf(c.opt.Trace, "vcard: "+format+"\n", args...)
	}
}
