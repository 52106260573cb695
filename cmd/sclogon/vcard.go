package main

import (
	"context"

	"github.com/sclogon/sclogon/card/vcard"
)

func init() {
	register(&command{
		name:    "vcard",
		summary: "run a software PIV card that pcscd sees in its virtual reader",
		help:    vcard.Help,
		run: func(ctx context.Context, s stdio, args []string) int {
			return vcard.Main(ctx, args, s.in, s.out, s.errOut)
		},
	})
}
