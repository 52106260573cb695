package main

import (
	"regexp"
	"strings"
)

// A helpDoc is one command's help text (what 'sclogon help CMD' prints) split
// into the parts of a manual page, so that the man pages and the shell
// completions are generated from that text and never drift from it.
//
// The help texts follow a plain-text layout that this reads back:
//
//   - "usage: sclogon CMD ..." lines first, each further form indented
//     under it, a line indented past it continuing the form above;
//   - paragraphs of prose, separated by blank lines;
//   - indented blocks: a list of "TERM  description" items (a term, two or
//     more spaces, prose, continued by lines indented further), or literal
//     text such as commands and configuration, kept line for line;
//   - a paragraph ending in ':' heads the block right under it; a list of
//     flags goes to OPTIONS, "Examples:" to EXAMPLES, "Exit codes: …" to
//     EXIT STATUS.
type helpDoc struct {
	synopsis    []string // the forms after "usage: ", each on one line
	description []block
	options     []block
	examples    []block
	exit        []block
}

type blockKind int

const (
	prose   blockKind = iota // filled text
	literal                  // kept line for line, relative indentation too
	items                    // a list of terms with their descriptions
)

// A block is a run of lines of one kind, ended by a blank line or a change of
// kind.
type block struct {
	kind       blockKind
	indent     int      // the indentation of its first line
	afterBlank bool     // a blank line came before it
	lines      []string // prose and literal: the lines, indentation removed up to indent
	items      []item
}

// An item is one entry of a list, e.g. "--reader NAME" and what it does.
// A description line indented past the description's column (a small table
// of values) keeps that extra indentation.
type item struct {
	term string
	desc []string
	col  int // the description's column in the help text
}

// itemLine is "TERM  description": a term without double spaces, a gap of two
// or more, then prose without double spaces (a line with a second gap is a
// table or a configuration line, kept literal).
var itemLine = regexp.MustCompile(`^(\S+(?: \S+)*)  +(\S+(?: \S+)*)$`)

// parseHelp splits a help text into a helpDoc.
func parseHelp(text string) helpDoc {
	lines := strings.Split(strings.Trim(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	synopsis, rest := splitUsage(lines)
	return routeBlocks(synopsis, splitBlocks(rest))
}

// splitUsage takes the leading "usage:" lines off.
func splitUsage(lines []string) (synopsis, rest []string) {
	i := 0
	for ; i < len(lines) && lines[i] != ""; i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(l, "usage: "):
			synopsis = append(synopsis, strings.TrimSpace(strings.TrimPrefix(l, "usage: ")))
		case strings.HasPrefix(l, "sclogon ") || len(synopsis) == 0:
			synopsis = append(synopsis, l)
		default:
			synopsis[len(synopsis)-1] += " " + l
		}
	}
	return synopsis, lines[i:]
}

// splitBlocks groups lines into blocks.
func splitBlocks(lines []string) []block {
	var blocks []block
	var cur *block
	blank := false
	for _, l := range lines {
		if l == "" {
			cur, blank = nil, true
			continue
		}
		if cur == nil || !cur.takes(l) {
			blocks = append(blocks, startBlock(l, blank))
			cur, blank = &blocks[len(blocks)-1], false
			continue
		}
		cur.add(l)
	}
	return blocks
}

func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

// startBlock opens the block that line l begins.
func startBlock(l string, afterBlank bool) block {
	b := block{indent: indentOf(l), afterBlank: afterBlank}
	switch t := strings.TrimSpace(l); {
	case itemLine.MatchString(t) || isTermStart(t):
		b.kind = items
	case b.indent > 0 && !looksLikeProse(t):
		b.kind = literal
	default:
		b.kind = prose
	}
	b.add(l)
	return b
}

// isTermStart reports whether t begins a term that the next line ends, as in
// "--allow-time-invalid, --allow-signature-keys," above "--allow-no-eku  …".
func isTermStart(t string) bool {
	return strings.HasPrefix(t, "-") && strings.HasSuffix(t, ",") && !itemLine.MatchString(t)
}

// looksLikeProse tells an indented sentence inside a list ("Durations are
// MIT's: …") from a command or configuration line: it starts with a capital
// letter and has at least four words.
func looksLikeProse(t string) bool {
	return t[0] >= 'A' && t[0] <= 'Z' && strings.Count(t, " ") >= 3 && !strings.Contains(t, "=") && !strings.HasPrefix(t, "[")
}

// takes reports whether line l continues block b.
func (b *block) takes(l string) bool {
	in, t := indentOf(l), strings.TrimSpace(l)
	switch b.kind {
	case items:
		if in > b.indent {
			return len(b.items) > 0 && b.items[len(b.items)-1].desc != nil
		}
		return in == b.indent && (itemLine.MatchString(t) || isTermStart(t))
	case literal:
		return in >= b.indent
	default:
		return in == b.indent && !itemLine.MatchString(t)
	}
}

// add appends line l to b.
func (b *block) add(l string) {
	t := strings.TrimSpace(l)
	switch b.kind {
	case items:
		b.addItemLine(indentOf(l), t, l)
	case literal:
		b.lines = append(b.lines, l[b.indent:])
	default:
		b.lines = append(b.lines, t)
	}
}

func (b *block) addItemLine(in int, t, l string) {
	n := len(b.items)
	switch {
	case in > b.indent:
		it := &b.items[n-1]
		it.desc = append(it.desc, strings.Repeat(" ", max(in-it.col, 0))+t)
	case n > 0 && b.items[n-1].desc == nil: // the second half of a term
		b.items[n-1].term += " "
		b.setItem(n-1, t, l)
	default:
		b.items = append(b.items, item{})
		b.setItem(n, t, l)
	}
}

func (b *block) setItem(i int, t, l string) {
	if m := itemLine.FindStringSubmatch(t); m != nil {
		b.items[i].term += m[1]
		b.items[i].desc = []string{m[2]}
		b.items[i].col = strings.LastIndex(l, m[2])
		return
	}
	b.items[i].term += t
}

// hasFlags reports whether a list documents flags.
func (b *block) hasFlags() bool {
	for _, it := range b.items {
		if strings.HasPrefix(it.term, "-") {
			return true
		}
	}
	return false
}

// text is a prose block's text on one line.
func (b *block) text() string { return strings.Join(b.lines, " ") }

var (
	exitHeading    = regexp.MustCompile(`^Exit (codes|status)\b`)
	exampleHeading = regexp.MustCompile(`^(?i:examples?)\b.*:$`)
)

// routeBlocks puts each block in its section of the page.
func routeBlocks(synopsis []string, blocks []block) helpDoc {
	d := helpDoc{synopsis: synopsis}
	section := &d.description
	for i := 0; i < len(blocks); i++ {
		b := blocks[i]
		next := func() *block {
			if i+1 < len(blocks) && !blocks[i+1].afterBlank {
				return &blocks[i+1]
			}
			return nil
		}()
		switch {
		case b.kind == prose && b.indent == 0 && exitHeading.MatchString(b.text()):
			section = &d.exit
		case b.kind == prose && b.indent == 0 && exampleHeading.MatchString(b.text()):
			section = &d.examples
		case b.kind == prose && b.indent == 0 && strings.HasSuffix(b.text(), ":") && next != nil && next.kind == items && next.hasFlags():
			section = &d.options
		case b.kind == items && b.hasFlags():
			section = &d.options
		case b.indent == 0 || (section == &d.options && b.afterBlank):
			section = &d.description
		}
		*section = append(*section, b)
	}
	return d
}
