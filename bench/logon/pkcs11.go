package logon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sclogon/sclogon/bench/kdcload"
	"github.com/sclogon/sclogon/card/vcard"
)

// SclogonKinitOpenSC runs `sclogon kinit --pin-stdin -X
// X509_user_identity=PKCS11:module_name=<OpenSC>` on the card: sclogon's
// PKCS #11 path through OpenSC's module instead of its own PIV client, and
// measures it the way [Bench.MITKinitOpenSC] measures MIT kinit, with
// OpenSC's file cache in cacheDir: empty for a cold logon, filled by a
// logon before for a warm one.
func (b *Bench) SclogonKinitOpenSC(ctx context.Context, sclogon, cacheDir string) (Measurement, error) {
	dir, err := os.MkdirTemp(b.Dir, "sclogon-opensc-")
	if err != nil {
		return Measurement{}, fmt.Errorf("logon: %w", err)
	}
	krb5 := fmt.Sprintf("[libdefaults]\n  default_realm = %[1]s\n  dns_lookup_kdc = false\n\n[realms]\n  %[1]s = {\n    kdc = %[2]s\n    pkinit_anchors = FILE:%[3]s\n  }\n",
		kdcload.RealmName, b.KDC.Addr, b.Realm.CA.RootPath())
	opensc := fmt.Sprintf("app default {\n  file_cache_dir = %s;\n  framework pkcs15 {\n    use_file_caching = public;\n  }\n}\n", cacheDir)
	for name, data := range map[string]string{"krb5.conf": krb5, "opensc.conf": opensc} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			return Measurement{}, fmt.Errorf("logon: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, sclogon, "kinit", "--pin-stdin", "-X", "X509_user_identity=PKCS11:module_name="+OpenSCModule, b.User.Name+"@"+kdcload.RealmName)
	cmd.Env = append(os.Environ(),
		"KRB5_CONFIG="+filepath.Join(dir, "krb5.conf"),
		"KRB5CCNAME=FILE:"+filepath.Join(dir, "ccache"),
		"OPENSC_CONF="+filepath.Join(dir, "opensc.conf"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
	)
	cmd.Stdin = strings.NewReader(vcard.DefaultPIN + "\n")
	before := b.Card.APDUs()
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	m := Measurement{APDUs: b.Card.APDUs() - before, Wall: time.Since(t0)}
	if err != nil {
		return m, fmt.Errorf("logon: sclogon kinit through OpenSC: %w\n%s", err, out)
	}
	return m, nil
}
