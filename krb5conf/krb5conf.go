// Package krb5conf reads MIT Kerberos profiles (krb5.conf) the way MIT's
// library does, so that sclogon honours the same files as kinit.
//
// Call [Load] with KRB5_CONFIG's value (a colon-separated list; the first file
// that sets a relation wins), or [Parse] for one stream, then look values up with
// [Config.Values], [Config.Value] and [Config.Bool], or the realm-aware
// [Config.RealmValues] that PKINIT options use.
//
// # Syntax
//
// Sections in brackets; "tag = value" relations; "tag = {" … "}" subsections;
// comments on lines starting with # or ;; a trailing * after a section or tag
// marks it final (files later in the list add nothing to it); quoted values take
// \n \t \b \\ \" escapes; "include FILE" and "includedir DIR" at the start of a
// line; "module PATH:RESIDUAL" is refused, as sclogon has no profile modules.
package krb5conf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Config is a parsed profile: one or more files merged in precedence order.
type Config struct {
	root *node
}

type node struct {
	name     string
	value    string // for a relation
	isValue  bool
	final    bool
	children []*node
}

func (n *node) child(name string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// maxIncludeDepth bounds include chains, which could otherwise loop.
const maxIncludeDepth = 8

// Load reads a colon-separated list of files, as KRB5_CONFIG gives them.
// Files that do not exist are skipped, as MIT skips them; it is an error if none
// could be read.
func Load(paths string) (*Config, error) {
	c := &Config{root: &node{}}
	read := 0
	for _, p := range strings.Split(paths, ":") {
		if p == "" {
			continue
		}
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("krb5conf: %w", err)
		}
		err = c.merge(f, p, 0)
		f.Close()
		if err != nil {
			return nil, err
		}
		read++
	}
	if read == 0 {
		return nil, fmt.Errorf("krb5conf: none of %q exists", paths)
	}
	return c, nil
}

// Parse reads one profile from r; name is used in errors and to resolve
// relative include paths.
func Parse(r io.Reader, name string) (*Config, error) {
	c := &Config{root: &node{}}
	if err := c.merge(r, name, 0); err != nil {
		return nil, err
	}
	return c, nil
}

var includeDirName = regexp.MustCompile(`^([A-Za-z0-9_-]+|[^.].*\.conf)$`)

// merge parses r and appends its content after what c already holds: values
// from earlier files come first, so single-valued lookups take the earliest.
func (c *Config) merge(r io.Reader, name string, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("krb5conf: %s: includes nested more than %d deep", name, maxIncludeDepth)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	p := &profileParser{c: c, name: name, depth: depth}
	for sc.Scan() {
		p.lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if err := p.line(line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("krb5conf: %s: %w", name, err)
	}
	if len(p.stack) > 0 {
		return fmt.Errorf("krb5conf: %s: %d subsection(s) not closed", name, len(p.stack))
	}
	return nil
}

// profileParser is merge's state within one file: the section and the
// subsections open at the current line.
type profileParser struct {
	c       *Config
	name    string
	depth   int // of includes
	lineNo  int
	section *node
	stack   []*node // open subsections
}

func (p *profileParser) errf(format string, args ...any) error {
	return fmt.Errorf("krb5conf: %s:%d: %s", p.name, p.lineNo, fmt.Sprintf(format, args...))
}

// line takes one line that is neither blank nor a comment.
func (p *profileParser) line(line string) error {
	if len(p.stack) == 0 {
		if done, err := p.directive(line); done || err != nil {
			return err
		}
	}
	switch line[0] {
	case '[':
		return p.header(line)
	case '}':
		if len(p.stack) == 0 {
			return p.errf("unmatched }")
		}
		if strings.TrimSpace(line[1:]) == "*" {
			p.stack[len(p.stack)-1].final = true
		}
		p.stack = p.stack[:len(p.stack)-1]
		return nil
	}
	return p.relation(line)
}

// directive reads include, includedir and module, which stand outside
// subsections; done is false for any other line.
func (p *profileParser) directive(line string) (done bool, err error) {
	switch {
	case strings.HasPrefix(line, "include "), strings.HasPrefix(line, "include\t"):
		return true, p.c.includeFile(strings.TrimSpace(line[len("include"):]), p.depth)
	case strings.HasPrefix(line, "includedir "), strings.HasPrefix(line, "includedir\t"):
		dir := strings.TrimSpace(line[len("includedir"):])
		entries, err := os.ReadDir(dir)
		if err != nil {
			return true, p.errf("includedir: %v", err)
		}
		for _, e := range entries {
			if e.IsDir() || !includeDirName.MatchString(e.Name()) {
				continue
			}
			if err := p.c.includeFile(filepath.Join(dir, e.Name()), p.depth); err != nil {
				return true, err
			}
		}
		return true, nil
	case strings.HasPrefix(line, "module "):
		return true, p.errf("profile modules are not supported")
	}
	return false, nil
}

// header opens the section "[name]" (final with "[name]*").
func (p *profileParser) header(line string) error {
	if len(p.stack) > 0 {
		return p.errf("section header inside a subsection")
	}
	end := strings.IndexByte(line, ']')
	if end < 0 {
		return p.errf("unterminated section header")
	}
	rest := strings.TrimSpace(line[end+1:])
	if rest != "" && rest != "*" {
		return p.errf("text after section header")
	}
	p.section = p.c.section(line[1:end])
	if rest == "*" {
		p.section.final = true
	}
	return nil
}

// relation reads "tag = value" or opens the subsection "tag = {".
func (p *profileParser) relation(line string) error {
	if p.section == nil {
		return p.errf("relation outside any section")
	}
	eq := strings.IndexByte(line, '=')
	if eq < 0 {
		return p.errf("expected tag = value, got %q", line)
	}
	tag := strings.TrimSpace(line[:eq])
	final := strings.HasSuffix(tag, "*")
	tag = strings.TrimSpace(strings.TrimSuffix(tag, "*"))
	if tag == "" {
		return p.errf("empty tag")
	}
	value := strings.TrimSpace(line[eq+1:])
	parent := p.section
	if len(p.stack) > 0 {
		parent = p.stack[len(p.stack)-1]
	}
	if value == "{" {
		sub := &node{name: tag, final: final}
		if !parent.final {
			parent.children = append(parent.children, sub)
		}
		p.stack = append(p.stack, sub)
		return nil
	}
	v, err := unquote(value)
	if err != nil {
		return p.errf("%v", err)
	}
	if !parent.final && !finalRelation(parent, tag) {
		parent.children = append(parent.children, &node{name: tag, value: v, isValue: true, final: final})
	}
	return nil
}

func finalRelation(parent *node, tag string) bool {
	for _, c := range parent.child(tag) {
		if c.final {
			return true
		}
	}
	return false
}

func (c *Config) includeFile(path string, depth int) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("krb5conf: include %q: path must be absolute", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("krb5conf: include: %w", err)
	}
	defer f.Close()
	return c.merge(f, path, depth+1)
}

// section returns the section called name, creating it.
func (c *Config) section(name string) *node {
	for _, s := range c.root.children {
		if s.name == name {
			return s
		}
	}
	s := &node{name: name}
	c.root.children = append(c.root.children, s)
	return s
}

func unquote(v string) (string, error) {
	if !strings.HasPrefix(v, `"`) {
		return v, nil
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		ch := v[i]
		switch ch {
		case '"':
			return b.String(), nil
		case '\\':
			i++
			if i >= len(v) {
				return "", errors.New("unterminated escape in quoted value")
			}
			switch v[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			default:
				b.WriteByte(v[i])
			}
		default:
			b.WriteByte(ch)
		}
	}
	return "", errors.New("unterminated quoted value")
}

// Values returns every value of the relation at path (section, subsections…,
// tag), in file order.
func (c *Config) Values(path ...string) []string {
	if c == nil || len(path) < 2 {
		return nil
	}
	nodes := []*node{c.root}
	for _, name := range path[:len(path)-1] {
		var next []*node
		for _, n := range nodes {
			for _, ch := range n.child(name) {
				if !ch.isValue {
					next = append(next, ch)
				}
			}
		}
		nodes = next
	}
	var out []string
	for _, n := range nodes {
		for _, ch := range n.child(path[len(path)-1]) {
			if ch.isValue {
				out = append(out, ch.value)
			}
		}
	}
	return out
}

// Value returns the first value at path.
func (c *Config) Value(path ...string) (string, bool) {
	vs := c.Values(path...)
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// Bool reads a boolean as MIT does (y, yes, true, t, 1, on / n, no, false,
// nil, 0, off; case-insensitive). ok is false when the relation is absent or
// its value is none of those.
func (c *Config) Bool(path ...string) (value, ok bool) {
	v, found := c.Value(path...)
	if !found {
		return false, false
	}
	return parseBool(v)
}

func parseBool(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "y", "yes", "true", "t", "1", "on":
		return true, true
	case "n", "no", "false", "nil", "0", "off":
		return false, true
	}
	return false, false
}

// RealmValues looks a per-realm option up the way MIT's PKINIT does:
// [realms] REALM { key }, then [libdefaults] REALM { key }, then
// [libdefaults] key; the first place that has it answers.
func (c *Config) RealmValues(realm, key string) []string {
	for _, path := range [][]string{
		{"realms", realm, key},
		{"libdefaults", realm, key},
		{"libdefaults", key},
	} {
		if vs := c.Values(path...); len(vs) > 0 {
			return vs
		}
	}
	return nil
}

// RealmBool is [Config.RealmValues] for a boolean, with def when unset.
func (c *Config) RealmBool(realm, key string, def bool) bool {
	vs := c.RealmValues(realm, key)
	if len(vs) == 0 {
		return def
	}
	if v, ok := parseBool(vs[0]); ok {
		return v
	}
	return def
}

// DefaultRealm is [libdefaults] default_realm.
func (c *Config) DefaultRealm() string {
	v, _ := c.Value("libdefaults", "default_realm")
	return v
}

// HostRealm maps a host name to its realm through [domain_realm] as MIT does:
// the whole name first, then each parent domain with its leading dot
// (".example.com"). It returns "" when nothing matches.
func (c *Config) HostRealm(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for cp := host; cp != ""; {
		if v, ok := c.Value("domain_realm", cp); ok {
			return v
		}
		i := strings.IndexByte(cp[1:], '.')
		if i < 0 {
			break
		}
		cp = cp[i+1:]
	}
	return ""
}

// Tags lists the distinct tags (relations and subsections) directly under
// path, in file order; with no path, the section names. Config checkers use it
// to refuse unknown keys.
func (c *Config) Tags(path ...string) []string {
	if c == nil {
		return nil
	}
	nodes := []*node{c.root}
	for _, name := range path {
		var next []*node
		for _, n := range nodes {
			for _, ch := range n.child(name) {
				if !ch.isValue {
					next = append(next, ch)
				}
			}
		}
		nodes = next
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range nodes {
		for _, ch := range n.children {
			if !seen[ch.name] {
				seen[ch.name] = true
				out = append(out, ch.name)
			}
		}
	}
	return out
}
