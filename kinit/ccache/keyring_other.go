//go:build !linux

package ccache

import "fmt"

func openKeyring(residual string, env Env) (Cache, error) {
	return nil, fmt.Errorf("%w: KEYRING caches live in the Linux kernel keyring", ErrUnsupported)
}
