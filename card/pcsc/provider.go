//go:build cgo && (linux || freebsd || openbsd)

package pcsc

import (
	"errors"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
)

// Provider opens cards under PC/SC with the generic PIV client.
type Provider struct {
	// Short forces short APDUs (see [apdu.Options]).
	Short bool
}

// Readers lists the readers that hold a card.
func (p Provider) Readers() ([]string, error) {
	ctx, err := Establish()
	if err != nil {
		return nil, err
	}
	defer ctx.Release()
	all, err := ctx.Readers()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range all {
		if ok, err := ctx.Present(r); err == nil && ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// Open connects to the card in reader and selects its PIV application.
func (p Provider) Open(reader string) (card.Card, error) {
	ctx, err := Establish()
	if err != nil {
		return nil, err
	}
	conn, err := ctx.Connect(reader)
	if err != nil {
		ctx.Release()
		return nil, err
	}
	closeAll := func() error { return errors.Join(conn.Close(), ctx.Release()) }
	c, err := apdu.Open(conn, reader, apdu.Options{Short: p.Short, Close: closeAll})
	if err != nil {
		closeAll()
		return nil, err
	}
	return c, nil
}
