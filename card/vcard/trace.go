package vcard

import (
	"fmt"
	"strings"
)

// secretData reports whether a command's data or its response data must not
// be traced: PINs and PUKs (VERIFY, CHANGE REFERENCE DATA, RESET RETRY
// COUNTER), management keys (SET MANAGEMENT KEY, IMPORT KEY) and the
// management-key challenge exchange, and the results of private-key
// operations (a decrypted secret or an ECDH shared secret), and objects only
// the PIN may read.
func secretData(cmd command) (quietCmd, quietResp bool) {
	switch cmd.ins {
	case 0x20, 0x24, 0x2C, 0xFF, 0xFE:
		return true, false
	case 0x87:
		return cmd.p2 == SlotManagement, true
	case 0xDB:
		return isProtectedPut(cmd.data), false
	case 0xCB:
		if v, ok := onlyTLV(cmd.data, 0x5C); ok && len(v) == 3 {
			return false, pinProtected(uint32(v[0])<<16|uint32(v[1])<<8|uint32(v[2])) || v[0] == 0x5F && v[1] == 0xFF
		}
	}
	return false, false
}

// isProtectedPut reports a PUT DATA that writes a PIN-protected object,
// where YubiKey tools keep the management key.
func isProtectedPut(data []byte) bool {
	tag, v, _, ok := readTLV(data)
	if !ok || tag != 0x5C || len(v) != 3 {
		return false
	}
	return pinProtected(uint32(v[0])<<16|uint32(v[1])<<8|uint32(v[2])) || v[0] == 0x5F && v[1] == 0xFF
}

func (c *Card) traceAPDU(raw []byte, cmd command, parsed, quietCmd bool, resp []byte, quietResp bool) {
	var b strings.Builder
	b.WriteString("vcard: > ")
	switch {
	case !parsed || !quietCmd || len(cmd.data) == 0:
		writeHex(&b, raw)
	default:
		writeHex(&b, raw[:4])
		fmt.Fprintf(&b, " [%d bytes redacted]", len(cmd.data))
	}
	b.WriteString("\nvcard: < ")
	data, sw := resp[:len(resp)-2], resp[len(resp)-2:]
	switch {
	case len(data) == 0:
	case quietResp:
		fmt.Fprintf(&b, "[%d bytes redacted] ", len(data))
	default:
		fmt.Fprintf(&b, "%X ", data)
	}
	fmt.Fprintf(&b, "%02X%02X\n", sw[0], sw[1])
	_, _ = c.opt.Trace.Write([]byte(b.String()))
}

// writeHex writes a command APDU as "CLA INS P1 P2 P3 DATA…".
func writeHex(b *strings.Builder, p []byte) {
	for i, x := range p {
		if i > 0 && i <= 5 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(b, "%02X", x)
	}
}
