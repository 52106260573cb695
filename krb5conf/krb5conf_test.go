package krb5conf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sampleConf = `# a typical client configuration
[libdefaults]
    default_realm = EXAMPLE.COM
    dns_lookup_kdc = false
    pkinit_dh_min_bits = 2048
    OTHER.ORG = {
        pkinit_eku_checking = none
    }
  ; comment with a semicolon

[realms]
    EXAMPLE.COM = {
        kdc = kdc1.example.com:88
        kdc = kdc2.example.com
        pkinit_anchors = FILE:/etc/ca.pem
        pkinit_anchors = DIR:/etc/cas
        pkinit_kdc_hostname = kdc1.example.com
        pkinit_cert_match = "<EKU>msScLogin,<KU>digitalSignature"
        auth_to_local = {
            nested = yes
        }
    }
    OTHER.ORG = {
        kdc = kdc.other.org
    }

[domain_realm]
    .example.com = EXAMPLE.COM
    example.com = EXAMPLE.COM
    host.other.org = OTHER.ORG
`

func parse(t *testing.T, s string) *Config {
	t.Helper()
	c, err := Parse(strings.NewReader(s), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestValues(t *testing.T) {
	c := parse(t, sampleConf)
	if got := c.DefaultRealm(); got != "EXAMPLE.COM" {
		t.Errorf("default realm %q", got)
	}
	if got := c.Values("realms", "EXAMPLE.COM", "kdc"); !reflect.DeepEqual(got, []string{"kdc1.example.com:88", "kdc2.example.com"}) {
		t.Errorf("kdc = %q", got)
	}
	if got, _ := c.Value("realms", "EXAMPLE.COM", "pkinit_cert_match"); got != "<EKU>msScLogin,<KU>digitalSignature" {
		t.Errorf("quoted value = %q", got)
	}
	if got, _ := c.Value("realms", "EXAMPLE.COM", "auth_to_local", "nested"); got != "yes" {
		t.Errorf("nested = %q", got)
	}
	if v, ok := c.Bool("libdefaults", "dns_lookup_kdc"); !ok || v {
		t.Errorf("dns_lookup_kdc = %v, %v", v, ok)
	}
	if _, ok := c.Value("realms", "NOPE", "kdc"); ok {
		t.Error("value for an absent realm")
	}
	if got := c.Values("realms", "EXAMPLE.COM"); got != nil {
		t.Errorf("a subsection read as values: %q", got)
	}
}

func TestRealmValuesPrecedence(t *testing.T) {
	c := parse(t, sampleConf)
	if got := c.RealmValues("EXAMPLE.COM", "pkinit_anchors"); len(got) != 2 {
		t.Errorf("realm's own anchors: %q", got)
	}
	if got := c.RealmValues("OTHER.ORG", "pkinit_eku_checking"); !reflect.DeepEqual(got, []string{"none"}) {
		t.Errorf("[libdefaults] REALM block: %q", got)
	}
	if got := c.RealmValues("OTHER.ORG", "pkinit_dh_min_bits"); !reflect.DeepEqual(got, []string{"2048"}) {
		t.Errorf("[libdefaults] fallback: %q", got)
	}
	if c.RealmBool("EXAMPLE.COM", "dns_lookup_kdc", true) {
		t.Error("RealmBool did not fall back to [libdefaults]")
	}
	if !c.RealmBool("EXAMPLE.COM", "absent", true) {
		t.Error("RealmBool default")
	}
}

func TestHostRealm(t *testing.T) {
	c := parse(t, sampleConf)
	for host, want := range map[string]string{
		"www.example.com":   "EXAMPLE.COM",
		"a.b.example.com":   "EXAMPLE.COM",
		"example.com":       "EXAMPLE.COM",
		"HOST.other.org.":   "OTHER.ORG",
		"else.other.org":    "",
		"notexample.com":    "",
		"":                  "",
		"com":               "",
		"x.y.z.example.com": "EXAMPLE.COM",
	} {
		if got := c.HostRealm(host); got != want {
			t.Errorf("HostRealm(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestLoadListAndIncludes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("conf.d/extra.conf", "[realms]\n EXAMPLE.COM = {\n  kdc = from-includedir\n }\n")
	write("conf.d/.hidden.conf", "[realms]\n EXAMPLE.COM = {\n  kdc = hidden\n }\n")
	write("conf.d/backup~", "[realms]\n EXAMPLE.COM = {\n  kdc = backup\n }\n")
	inc := write("inc.conf", "[libdefaults]\n forwardable = true\n")
	first := write("first.conf", "include "+inc+"\nincludedir "+filepath.Join(dir, "conf.d")+"\n[libdefaults]\n default_realm = FIRST.ORG\n[capaths]*\n")
	second := write("second.conf", "[libdefaults]\n default_realm = SECOND.ORG\n ticket_lifetime = 1h\n[capaths]\n ignored = yes\n")
	c, err := Load(first + ":" + filepath.Join(dir, "missing.conf") + ":" + second)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.DefaultRealm(); got != "FIRST.ORG" {
		t.Errorf("earlier file must win: %q", got)
	}
	if got, _ := c.Value("libdefaults", "ticket_lifetime"); got != "1h" {
		t.Errorf("later file fills gaps: %q", got)
	}
	if v, _ := c.Bool("libdefaults", "forwardable"); !v {
		t.Error("include not read")
	}
	if got := c.Values("realms", "EXAMPLE.COM", "kdc"); !reflect.DeepEqual(got, []string{"from-includedir"}) {
		t.Errorf("includedir read %q (dot files and names with ~ are skipped)", got)
	}
	if _, ok := c.Value("capaths", "ignored"); ok {
		t.Error("a final section took relations from a later file")
	}
	if _, err := Load(filepath.Join(dir, "none") + ":" + filepath.Join(dir, "nothing")); err == nil {
		t.Error("Load of only missing files succeeded")
	}
}

func TestParseErrors(t *testing.T) {
	for name, s := range map[string]string{
		"relation outside section": "a = b\n",
		"unterminated header":      "[libdefaults\n",
		"unclosed subsection":      "[realms]\n R = {\n kdc = x\n",
		"unmatched brace":          "[realms]\n}\n",
		"no equals":                "[realms]\n kdc\n",
		"unterminated quote":       "[a]\n b = \"abc\n",
		"module":                   "module /lib/x.so:res\n",
		"relative include":         "include relative.conf\n",
		"header in subsection":     "[realms]\n R = {\n[libdefaults]\n }\n",
	} {
		if _, err := Parse(strings.NewReader(s), "bad.conf"); err == nil {
			t.Errorf("%s: parsed", name)
		} else if !strings.HasPrefix(err.Error(), "krb5conf: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
}

func TestQuotedEscapes(t *testing.T) {
	c := parse(t, "[a]\n b = \"x\\ty\\n\\\"z\\\\\"\n")
	if got, _ := c.Value("a", "b"); got != "x\ty\n\"z\\" {
		t.Errorf("got %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sampleConf)
	f.Add("[a]*\n b* = {\n c = \"d\\\"\"\n }*\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		_ = c.DefaultRealm()
		_ = c.HostRealm("a.b.c")
		_ = c.RealmValues("R", "kdc")
	})
}

func TestTags(t *testing.T) {
	c := parse(t, sampleConf)
	if got := c.Tags(); !reflect.DeepEqual(got, []string{"libdefaults", "realms", "domain_realm"}) {
		t.Errorf("sections %q", got)
	}
	if got := c.Tags("realms", "EXAMPLE.COM"); !reflect.DeepEqual(got, []string{"kdc", "pkinit_anchors", "pkinit_kdc_hostname", "pkinit_cert_match", "auth_to_local"}) {
		t.Errorf("realm tags %q", got)
	}
	if got := c.Tags("nope"); got != nil {
		t.Errorf("absent section: %q", got)
	}
}
