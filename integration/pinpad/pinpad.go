// Package pinpad holds ifd-pinpad, a PIN-pad reader for pcscd that tests
// drive: an IFD handler in C (ifd/ifd-pinpad.c) whose card is a software card
// speaking vpcd's wire protocol and whose keypad is a file the test writes.
// It offers PC/SC part 10's FEATURE_VERIFY_PIN_DIRECT and
// FEATURE_MODIFY_PIN_DIRECT, so a client's PIN-pad path runs under the real
// pcscd against the software PIV card.
//
// [github.com/sclogon/sclogon/integration/harness.StartPCSCDWith] compiles it
// (gcc, libpcsclite-dev) and adds its reader; the file's comment describes
// reader.conf and the keypad.
package pinpad

import _ "embed"

// Source is the C source of the IFD handler.
//
//go:embed ifd/ifd-pinpad.c
var Source []byte
