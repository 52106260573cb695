package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/integration/harness"
)

// need ends the test when a tool is missing (./integration/setup installs
// them all): a failure under CI=true, a skip elsewhere.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			harness.Missing(t, tool+" is not installed (./integration/setup installs it)")
		}
	}
}

// sclogon runs the command line in this process and returns its stdout.
func sclogon(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), stdio{in: strings.NewReader(""), out: &out, errOut: &errOut}, args); code != exitOK {
		t.Fatalf("sclogon %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}

// renderMan renders a page as man(1) shows it, failing on any warning from
// man or groff.
func renderMan(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("man", append([]string{"--warnings", "-E", "UTF-8"}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{"MANWIDTH=80", "MANPAGER=cat", "PAGER=cat", "LC_ALL=C.UTF-8"}, env...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil || errOut.Len() > 0 {
		t.Fatalf("man %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

func TestManPagesRenderWithoutWarnings(t *testing.T) {
	need(t, "man", "groff")
	dir := t.TempDir()
	sclogon(t, "gen-man", dir)
	want := []string{"sclogon.1"}
	for name := range commands {
		want = append(want, "sclogon-"+name+".1")
	}
	got, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	for i := range got {
		got[i] = filepath.Base(got[i])
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("pages %v, want %v", got, want)
	}
	for _, page := range got {
		file := filepath.Join(dir, page)
		groff := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", file)
		if out, err := groff.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff -ww %s: %v\n%s", page, err, out)
		}
		text := renderMan(t, nil, "-l", file)
		for _, section := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "SEE ALSO"} {
			if !strings.Contains(text, "\n"+section+"\n") {
				t.Errorf("%s has no %s section:\n%s", page, section, text)
			}
		}
	}
}

// TestManPageShowsEveryFlag: each flag the help text documents is on the
// command's page, in ASCII (an escaped hyphen, not U+2010), so a reader can
// search for it and copy it.
func TestManPageShowsEveryFlag(t *testing.T) {
	need(t, "man")
	dir := t.TempDir()
	sclogon(t, "gen-man", dir)
	for _, c := range completables() {
		text := renderMan(t, nil, "-l", filepath.Join(dir, "sclogon-"+c.name+".1"))
		for _, f := range c.flags {
			if f.name != "--help" && !strings.Contains(text, f.name) {
				t.Errorf("sclogon-%s(1) does not show %s", c.name, f.name)
			}
		}
		if !strings.Contains(text, c.summary[:20]) {
			t.Errorf("sclogon-%s(1) does not show its summary %q", c.name, c.summary)
		}
	}
}

func TestManHelpSections(t *testing.T) {
	d := parseHelp(commands["kinit"].help)
	if len(d.synopsis) != 1 || d.synopsis[0] != "sclogon kinit [flags] [principal]" {
		t.Errorf("synopsis %q", d.synopsis)
	}
	var terms []string
	for _, b := range d.options {
		for _, it := range b.items {
			terms = append(terms, it.term)
		}
	}
	for _, want := range []string{"--identity ID", "-r RENEW_LIFE", "--allow-sha1", "-f / -F", "-X ATTR=VALUE"} {
		if !slices.Contains(terms, want) {
			t.Errorf("kinit's options lack %q: %q", want, terms)
		}
	}
	if len(d.examples) != 2 || d.examples[1].kind != literal || !slices.Contains(d.examples[1].lines, "sclogon kinit -R") {
		t.Errorf("kinit's examples: %+v", d.examples)
	}
	if len(d.exit) != 1 || !strings.HasPrefix(d.exit[0].text(), "Exit codes: 0") {
		t.Errorf("kinit's exit status: %+v", d.exit)
	}
	certs := parseHelp(commands["certs"].help)
	last := certs.options[len(certs.options)-1].items
	if got := last[len(last)-1].term; got != "--allow-time-invalid, --allow-signature-keys, --allow-no-upn, --allow-no-eku, --allow-any-key-usage" {
		t.Errorf("a term over two lines: %q", got)
	}
	pin := parseHelp(commands["pin"].help)
	if b := pin.description[0]; b.kind != items || b.items[2].term != "unblock" || len(b.items[2].desc) != 2 {
		t.Errorf("pin's subcommands: %+v", b)
	}
}

// TestManOddHelpText: a word longer than a line, a table inside a flag's
// description and a request-like line render without a warning and keep the
// table's lines.
func TestManOddHelpText(t *testing.T) {
	need(t, "groff")
	c := &command{name: "odd", summary: "odd help text", help: `
usage: sclogon odd [-f] [--uri URI]

.starts like a request, 'and' like a quoted one.

flags:
  -f          flags, in letters:
                F forwardable    f forwarded
                R renewable      I initial
  --uri URI   a token: PKCS11:module_name=LIB.so:slotid=N:token=LABEL:certid=HEX:certlabel=LABEL
              (every part optional)

Exit codes: 0 done, 1 failed, 2 usage error.
`}
	file := filepath.Join(t.TempDir(), "sclogon-odd.1")
	if err := os.WriteFile(file, commandPage(c, "2026-01-02"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("groff", "-man", "-Tutf8", "-ww", "-rLL=80n", file).CombinedOutput()
	if err != nil || strings.Contains(string(out), "warning") {
		t.Fatalf("groff: %v\n%s", err, out)
	}
	for _, want := range []string{"F forwardable    f forwarded", "R renewable      I initial", ".starts like a request", "'and' like", "(every part optional)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the page lacks %q:\n%s", want, out)
		}
	}
}

func TestManEscapes(t *testing.T) {
	for in, want := range map[string]string{
		".SH not a request":             `\&.SH not a request`,
		"'quoted' at the start":         `\&'quoted' at the start`,
		`printf '123\n' | sclogon -x`:   `printf '123\en' | sclogon \-x`,
		"slots 82–95, { … }":            `slots 82\[u2013]95, { \[u2026] }`,
		"it's 'sclogon help' mid-line.": `it's 'sclogon help' mid\-line.`,
	} {
		if got := escapeRoff(in); got != want {
			t.Errorf("escapeRoff(%q) = %q, want %q", in, got, want)
		}
	}
}

// complete runs the bash completion for a command line that ends where TAB
// is pressed, and returns what it offers.
func complete(t *testing.T, script string, words ...string) []string {
	t.Helper()
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + w + "'"
	}
	prog := `source "$1"; COMP_WORDS=(` + strings.Join(quoted, " ") + `); COMP_CWORD=` +
		strconv.Itoa(len(words)-1) + `; _sclogon; printf '%s\n' "${COMPREPLY[@]}"`
	out, err := exec.Command("bash", "-c", prog, "bash", script).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

func TestBashCompletion(t *testing.T) {
	need(t, "bash")
	script := filepath.Join(t.TempDir(), "sclogon")
	if err := os.WriteFile(script, []byte(sclogon(t, "gen-completion", "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"sclogon", "ki"}, []string{"kinit"}},
		{[]string{"sclogon", "kinit", "--ident"}, []string{"--identity"}},
		{[]string{"sclogon", "kinit", "-r", "7d", "--allow-s"}, []string{"--allow-sha1", "--allow-signature-keys"}},
		{[]string{"sclogon", "help", "wa"}, []string{"watch"}},
		{[]string{"sclogon", "pki", "en"}, []string{"enroll"}},
		{[]string{"sclogon", "pin", ""}, []string{"status", "change", "unblock"}},
		{[]string{"sclogon", "vcard", "--sta"}, []string{"--state"}},
		{[]string{"sclogon", "--ver"}, []string{"--version"}},
		{[]string{"sclogon", "kinit", "--anchors", "ca/"}, nil}, // bash completes a file name (-o default)
	} {
		got := complete(t, script, tc.words...)
		slices.Sort(got)
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s<TAB>: %q, want %q", strings.Join(tc.words, " "), got, tc.want)
		}
	}
	all := complete(t, script, "sclogon", "")
	for name := range commands {
		if !slices.Contains(all, name) {
			t.Errorf("sclogon <TAB> does not offer %s: %q", name, all)
		}
	}
}

func TestZshCompletionParses(t *testing.T) {
	need(t, "zsh")
	script := filepath.Join(t.TempDir(), "_sclogon")
	src := sclogon(t, "gen-completion", "zsh")
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zsh", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	for _, want := range []string{"#compdef sclogon\n", "'kinit:obtain a Kerberos TGT", "'--identity:a software identity instead"} {
		if !strings.Contains(src, want) {
			t.Errorf("the zsh completion lacks %q", want)
		}
	}
}

func TestGenUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"gen-man"}, {"gen-completion"}, {"gen-completion", "fish"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), stdio{out: &out, errOut: &errOut}, args); code != exitUsage || !strings.Contains(errOut.String(), "usage: sclogon gen-") {
			t.Errorf("sclogon %v: exit %d, stderr %q", args, code, errOut.String())
		}
	}
	var out bytes.Buffer
	usage(&out)
	if strings.Contains(out.String(), "gen-") {
		t.Errorf("'sclogon help' lists the hidden generators:\n%s", out.String())
	}
}

// TestMakeInstall: 'make install DESTDIR=…' puts the binary, a page for every
// command and both completions under PREFIX, 'man sclogon-kinit' finds and
// renders its page there, and 'make uninstall' takes it all away again.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		harness.Missing(t, "-short: this test builds and installs sclogon")
	}
	need(t, "make", "install", "man", "go")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dest, build := t.TempDir(), t.TempDir()
	goBin, _ := exec.LookPath("go")
	mk := func(target string) {
		t.Helper()
		cmd := exec.Command("make", "-C", root, target, "DESTDIR="+dest, "PREFIX=/usr/local", "GO="+goBin, "BIN="+filepath.Join(build, "sclogon"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
	}
	mk("install")
	prefix := filepath.Join(dest, "usr/local")
	want := []string{"bin/sclogon", "share/man/man1/sclogon.1", "share/bash-completion/completions/sclogon", "share/zsh/site-functions/_sclogon"}
	for name := range commands {
		want = append(want, "share/man/man1/sclogon-"+name+".1")
	}
	for _, f := range want {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	if fi, err := os.Stat(filepath.Join(prefix, "bin/sclogon")); err == nil && fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/sclogon mode %v", fi.Mode())
	}
	if b, _ := os.ReadFile(filepath.Join(prefix, "share/bash-completion/completions/sclogon")); string(b) != sclogon(t, "gen-completion", "bash") {
		t.Errorf("the installed bash completion is not what 'sclogon gen-completion bash' prints")
	}

	text := renderMan(t, []string{"MANPATH=" + filepath.Join(prefix, "share/man")}, "sclogon-kinit")
	for _, want := range []string{"sclogon-kinit - obtain a Kerberos TGT", "--identity ID", "-r RENEW_LIFE", "--service-ticket SERVICE", "EXIT STATUS"} {
		if !strings.Contains(text, want) {
			t.Errorf("man sclogon-kinit does not show %q:\n%s", want, text)
		}
	}

	mk("uninstall")
	var left []string
	filepath.WalkDir(dest, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, path)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("make uninstall left %q", left)
	}
}
