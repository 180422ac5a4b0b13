package wikilink

import (
	"cmp"
	"slices"
	"strings"
)

// maxTargetLen is the longest Target in bytes; a longer one is prose in brackets, not a link.
const maxTargetLen = 512

// Link is one [[...]] in a body.
type Link struct {
	// Target is what stands before the first unescaped '|' (or the whole inside), trimmed of
	// spaces, with escapes resolved: a title or a slug as written, "#section" included.
	Target string
	// Slug is Slugify(Target without its "#section" suffix), never "": the entry the link names.
	Slug string
	// Label is what stands after the first unescaped '|', trimmed, escapes resolved; "" when
	// there is no '|' or nothing after it.
	Label string
	// Offset is the byte offset of the opening "[[" in the source.
	Offset int
}

// Parse returns the links of a markdown body in order of appearance; nil when there are none.
//
// Not links: [[...]] inside a fenced code block or an inline code span; "\[[x]]", whose first '['
// is escaped; an inside holding a line ending, an unescaped '[' or a lone ']'; a target that is
// blank, longer than 512 bytes, or holds a bracket (escaped or in a code span); a target whose
// slug is empty, as in [[!!!]] or the same-page [[#Section]].
//
// Inside the brackets a backslash escapes ASCII punctuation, so "\|" is a '|' in the target or
// label rather than the separator, and "\]" a ']' in the label. A code span inside the brackets is
// part of the text ([[The `go` command]]), and one that runs past the closing "]]" wins over the
// link, as code spans win over links in CommonMark.
//
// Where brackets nest, the innermost "[[" with a valid inside is the link: "[[[Page]]]" is the link
// [[Page]] at offset 1 with a literal '[' before it and ']' after, and in "[[a [[b]] c]]" only
// [[b]] is a link. A "[[" directly followed by '[' never opens a link. An embed, ![[image.png]],
// is the link [[image.png]].
func Parse(markdown string) []Link {
	p := parser{src: markdown}
	p.blocks()
	return p.links
}

// parser holds the state of one Parse call.
type parser struct {
	src   string
	links []Link

	// start and end bound the paragraph being scanned.
	start, end int
	// runs holds the paragraph's maximal backtick runs ordered by length, then start, once
	// indexed is set (at the paragraph's first backtick). Its array is reused across paragraphs.
	runs    []backticks
	indexed bool
}

// backticks is a maximal run of backticks.
type backticks struct{ n, start int }

// fence is an open fenced code block.
type fence struct {
	char byte // '`' or '~'
	n    int  // length of the opening run
}

// blocks walks the lines and scans each paragraph, skipping fenced code blocks. A paragraph here
// is a run of lines ended by a blank line, a fence or a one-line block (see oneLine), which is a
// paragraph of its own. No code span crosses the end of a paragraph, so an unbalanced backtick in
// a heading does not hide the links below it.
func (p *parser) blocks() {
	s := p.src
	para := -1 // start of the current paragraph, -1 when none
	var open fence
	inFence := false
	for pos := 0; pos < len(s); {
		end, next := lineEnd(s, pos)
		line := s[pos:end]
		switch {
		case inFence:
			inFence = !closes(line, open)
		case opens(line, &open):
			p.paragraph(para, pos)
			para = -1
			inFence = true
		case blank(line):
			p.paragraph(para, pos)
			para = -1
		case oneLine(line):
			p.paragraph(para, pos)
			p.paragraph(pos, next)
			para = -1
		case para < 0:
			para = pos
		}
		pos = next
	}
	p.paragraph(para, len(s))
}

// lineEnd returns the end of the line starting at pos, without its line ending (CommonMark's
// "\n", "\r\n" or "\r"), and the start of the next line.
func lineEnd(s string, pos int) (end, next int) {
	rest := s[pos:]
	i := strings.IndexByte(rest, '\n')
	if i < 0 {
		i = len(rest)
	}
	if j := strings.IndexByte(rest[:i], '\r'); j >= 0 {
		end = pos + j
		if end+1 < len(s) && s[end+1] == '\n' {
			return end, end + 2
		}
		return end, end + 1
	}
	if i == len(rest) {
		return len(s), len(s)
	}
	return pos + i, pos + i + 1
}

// indent returns the number of leading spaces of line when they are at most three, the most a
// fence may have, or -1. A tab indents to column four, so it counts as too much.
func indent(line string) int {
	i := 0
	for i < len(line) && i < 4 && line[i] == ' ' {
		i++
	}
	if i > 3 {
		return -1
	}
	return i
}

// run returns the length of the run of c starting at i in s.
func run(s string, i int, c byte) int {
	n := 0
	for i+n < len(s) && s[i+n] == c {
		n++
	}
	return n
}

// opens reports whether line opens a fenced code block and, if so, describes it in f: three or
// more backticks or tildes indented by at most three spaces; after backticks, an info string
// without backticks.
func opens(line string, f *fence) bool {
	i := indent(line)
	if i < 0 || i >= len(line) || (line[i] != '`' && line[i] != '~') {
		return false
	}
	c := line[i]
	n := run(line, i, c)
	if n < 3 || (c == '`' && strings.IndexByte(line[i+n:], '`') >= 0) {
		return false
	}
	*f = fence{char: c, n: n}
	return true
}

// closes reports whether line closes the fenced block f: a run of f's character at least as long
// as the opening one, indented by at most three spaces, followed by nothing but spaces and tabs.
func closes(line string, f fence) bool {
	i := indent(line)
	if i < 0 {
		return false
	}
	n := run(line, i, f.char)
	return n >= f.n && blank(line[i+n:])
}

// blank reports whether line holds nothing but spaces and tabs.
func blank(line string) bool {
	for i := 0; i < len(line); i++ {
		if line[i] != ' ' && line[i] != '\t' {
			return false
		}
	}
	return true
}

// oneLine reports whether line is a block that ends with its line: an ATX heading ("## Title"),
// a setext heading underline ("===", "---") or a thematic break ("***", "- - -").
func oneLine(line string) bool {
	i := indent(line)
	if i < 0 || i >= len(line) {
		return false
	}
	c := line[i]
	n := run(line, i, c)
	switch c {
	case '#':
		return n <= 6 && (i+n == len(line) || line[i+n] == ' ' || line[i+n] == '\t')
	case '=':
		return blank(line[i+n:])
	case '-', '*', '_':
		if c == '-' && blank(line[i+n:]) {
			return true
		}
		count := 0 // a thematic break has three or more, spaces and tabs between
		for j := i; j < len(line); j++ {
			switch line[j] {
			case c:
				count++
			case ' ', '\t':
			default:
				return false
			}
		}
		return count >= 3
	}
	return false
}

// special marks the bytes the inline scanner stops at.
var special = [256]bool{'\\': true, '`': true, '[': true}

// paragraph scans src[start:end] for links, skipping code spans and escaped characters. It does
// nothing when start is negative (no paragraph is open).
func (p *parser) paragraph(start, end int) {
	if start < 0 {
		return
	}
	p.start, p.end, p.indexed = start, end, false
	s := p.src[:end]
	for i := start; i < len(s); {
		if !special[s[i]] {
			i++
			continue
		}
		switch s[i] {
		case '\\':
			i += escape(s, i)
		case '`':
			n := run(s, i, '`')
			if c := p.closer(i+n, n); c >= 0 {
				i = c + n
			} else {
				i += n // an unmatched run is literal text
			}
		case '[':
			if i+1 < len(s) && s[i+1] == '[' {
				if next, ok := p.link(i); ok {
					i = next
					continue
				}
			}
			i++
		}
	}
}

// escape returns how many bytes the backslash at s[i] takes: two when it escapes an ASCII
// punctuation character, one when it is a literal backslash.
func escape(s string, i int) int {
	if i+1 < len(s) && punct(s[i+1]) {
		return 2
	}
	return 1
}

// punct reports whether c is ASCII punctuation, the characters a backslash can escape.
func punct(c byte) bool {
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}

// closer returns the start of the backtick run of exactly n that closes a code span opened by a
// run ending at from, or -1 when the paragraph has none. Backslashes do not escape inside a code
// span, so a closer is any maximal run of the right length.
func (p *parser) closer(from, n int) int {
	if !p.indexed {
		p.indexRuns()
	}
	k, _ := slices.BinarySearchFunc(p.runs, backticks{n, from}, compareRuns)
	if k == len(p.runs) || p.runs[k].n != n {
		return -1
	}
	return p.runs[k].start
}

// indexRuns records the paragraph's maximal backtick runs by length. Looking closers up in the
// index rather than scanning for them keeps Parse near-linear when a paragraph holds many
// unmatched runs.
func (p *parser) indexRuns() {
	p.runs, p.indexed = p.runs[:0], true
	s := p.src[:p.end]
	for i := p.start; i < len(s); {
		j := strings.IndexByte(s[i:], '`')
		if j < 0 {
			break
		}
		i += j
		n := run(s, i, '`')
		p.runs = append(p.runs, backticks{n, i})
		i += n
	}
	slices.SortStableFunc(p.runs, compareRuns) // found in order of start, so sorted by both
}

// compareRuns orders runs by length, then start.
func compareRuns(a, b backticks) int {
	if c := cmp.Compare(a.n, b.n); c != 0 {
		return c
	}
	return cmp.Compare(a.start, b.start)
}

// link tries to read a link whose "[[" is at open in the current paragraph. On success it records
// the link and returns the offset just past its "]]".
func (p *parser) link(open int) (next int, ok bool) {
	s := p.src[:p.end]
	var (
		bar     = -1 // the separating '|'
		escapes []int
	)
	i := open + 2
	for {
		if i >= len(s) {
			return 0, false
		}
		switch s[i] {
		case '\\':
			if escape(s, i) == 2 {
				escapes = append(escapes, i)
				i += 2
				continue
			}
		case '\n', '\r', '[':
			return 0, false
		case ']':
			if i+1 < len(s) && s[i+1] == ']' {
				return p.add(open, i, bar, escapes)
			}
			return 0, false
		case '|':
			if bar < 0 {
				bar = i
			}
		case '`':
			n := run(s, i, '`')
			c := p.closer(i+n, n)
			if c < 0 {
				i += n
				continue
			}
			if strings.ContainsAny(s[i+n:c], "\r\n") {
				return 0, false
			}
			i = c + n
			continue
		}
		i++
	}
}

// add validates the link between the "[[" at open and the "]]" at shut, with the separator at bar
// (-1 when none), and records it. It returns the offset past "]]" and whether it was a link.
func (p *parser) add(open, shut, bar int, escapes []int) (next int, ok bool) {
	targetEnd, label := shut, ""
	if bar >= 0 {
		targetEnd = bar
		label = strings.TrimSpace(unescape(p.src, bar+1, shut, escapes))
	}
	target := strings.TrimSpace(unescape(p.src, open+2, targetEnd, escapes))
	// The scan stops at line endings, but an escape or a code span can bring in a bracket.
	if target == "" || len(target) > maxTargetLen || strings.ContainsAny(target, "[]") {
		return 0, false
	}
	page, _, _ := strings.Cut(target, "#")
	slug := Slugify(page)
	if slug == "" {
		return 0, false
	}
	p.links = append(p.links, Link{Target: target, Slug: slug, Label: label, Offset: open})
	return shut + 2, true
}

// unescape returns src[start:end] without the escaping backslashes at the offsets in escapes.
func unescape(src string, start, end int, escapes []int) string {
	k, _ := slices.BinarySearch(escapes, start)
	if k == len(escapes) || escapes[k] >= end {
		return src[start:end]
	}
	var b strings.Builder
	b.Grow(end - start)
	for ; k < len(escapes) && escapes[k] < end; k++ {
		b.WriteString(src[start:escapes[k]])
		start = escapes[k] + 1
	}
	b.WriteString(src[start:end])
	return b.String()
}
