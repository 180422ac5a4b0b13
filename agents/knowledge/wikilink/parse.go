package wikilink

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// maxTargetLen is the longest Target in bytes; a longer one is prose in brackets, not a link.
const maxTargetLen = 512

// maxLinkLen is the longest [[…]] in bytes, label included.
const maxLinkLen = 2048

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
// The body is read by goldmark, a CommonMark parser, with one inline parser added for [[...]]:
// CommonMark decides what is code (fenced and indented code blocks, code spans), HTML, a block
// quote or a heading, and no link is found in code or HTML. Within a line of text:
//
// Not links: "\[[x]]", whose first '[' is escaped; an inside holding an unescaped '[' or a lone
// ']', or running past the end of its line or past 2 048 bytes; a target that is blank, longer
// than 512 bytes, or
// holds a bracket (escaped or in a code span); a target whose slug is empty, as in [[!!!]] or the
// same-page [[#Section]].
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
	src := []byte(markdown)
	doc := markdownParser.Parse(text.NewReader(src))
	var links []Link
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if w, ok := n.(*Node); ok && entering {
			links = append(links, w.Link)
		}
		return ast.WalkContinue, nil
	})
	return links
}

// markdownParser is CommonMark with [[links]]. goldmark parsers keep no state between calls.
var markdownParser = parser.NewParser(
	parser.WithBlockParsers(parser.DefaultBlockParsers()...),
	parser.WithInlineParsers(append(parser.DefaultInlineParsers(), util.Prioritized(InlineParser(), 199))...),
	parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...),
)

// KindNode is the goldmark node kind of a [[link]].
var KindNode = ast.NewNodeKind("WikiLink")

// Node is a [[link]] in a goldmark tree.
type Node struct {
	ast.BaseInline
	Link Link
}

// Kind implements ast.Node.
func (n *Node) Kind() ast.NodeKind { return KindNode }

// Dump implements ast.Node.
func (n *Node) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{"Target": n.Link.Target, "Label": n.Link.Label}, nil)
}

// InlineParser returns goldmark's inline parser of [[links]] (and ![[embeds]]), for a goldmark
// parser of one's own: give it a priority before goldmark's link parser (200), as Parse does.
func InlineParser() parser.InlineParser { return inlineParser{} }

type inlineParser struct{}

func (inlineParser) Trigger() []byte { return []byte{'[', '!'} }

func (inlineParser) Parse(_ ast.Node, block text.Reader, _ parser.Context) ast.Node {
	line, seg := block.PeekLine()
	open := 0
	if len(line) > 0 && line[0] == '!' {
		open = 1
	}
	if len(line) < open+2 || line[open] != '[' || line[open+1] != '[' || len(line) > open+2 && line[open+2] == '[' {
		return nil
	}
	// A link ends on its line, within maxLinkLen: looking further would copy and scan the rest
	// of a long line at every "[[" of it (quadratic in a line of "[[a[[a…").
	l, end, ok := scan(line[:min(len(line), open+maxLinkLen)], open)
	if !ok {
		return nil
	}
	l.Offset = seg.Start + open
	block.Advance(end)
	return &Node{Link: l}
}

// scan reads the link whose "[[" is at open in line (the rest of a line of text). It returns the
// link and the offset just past its "]]".
func scan(s []byte, open int) (l Link, end int, ok bool) {
	var (
		bar     = -1 // the separating '|'
		escapes []int
	)
	for i := open + 2; i < len(s); {
		switch s[i] {
		case '\\':
			if i+1 < len(s) && punct(s[i+1]) {
				escapes = append(escapes, i)
				i += 2
				continue
			}
		case '\n', '\r', '[':
			return Link{}, 0, false
		case ']':
			if i+1 < len(s) && s[i+1] == ']' {
				return link(s, open, i, bar, escapes)
			}
			return Link{}, 0, false
		case '|':
			if bar < 0 {
				bar = i
			}
		case '`':
			n := run(s, i, '`')
			c := closer(s, i+n, n)
			if c < 0 {
				i += n // no closer on the line: literal backticks
				continue
			}
			if shut := bytes.Index(s[i:], []byte("]]")); shut >= 0 && i+shut < c {
				// The code span runs past "]]": it wins over the link.
				return Link{}, 0, false
			}
			i = c + n
			continue
		}
		i++
	}
	return Link{}, 0, false
}

// link validates the link between the "[[" at open and the "]]" at shut, with the separator at
// bar (-1 when none).
func link(s []byte, open, shut, bar int, escapes []int) (Link, int, bool) {
	targetEnd, label := shut, ""
	if bar >= 0 {
		targetEnd = bar
		label = strings.TrimSpace(unescape(s, bar+1, shut, escapes))
	}
	target := strings.TrimSpace(unescape(s, open+2, targetEnd, escapes))
	if target == "" || len(target) > maxTargetLen || strings.ContainsAny(target, "[]") {
		return Link{}, 0, false
	}
	page, _, _ := strings.Cut(target, "#")
	slug := Slugify(page)
	if slug == "" {
		return Link{}, 0, false
	}
	return Link{Target: target, Slug: slug, Label: label}, shut + 2, true
}

// run is the length of the run of c starting at s[i].
func run(s []byte, i int, c byte) int {
	n := 0
	for i+n < len(s) && s[i+n] == c {
		n++
	}
	return n
}

// closer returns the start of the first run of exactly n backticks at or after from, or -1.
// Backslashes do not escape inside a code span, so any such run closes it.
func closer(s []byte, from, n int) int {
	for i := from; i < len(s); {
		j := bytes.IndexByte(s[i:], '`')
		if j < 0 {
			return -1
		}
		i += j
		m := run(s, i, '`')
		if m == n {
			return i
		}
		i += m
	}
	return -1
}

// punct reports whether c is ASCII punctuation, the characters a backslash can escape.
func punct(c byte) bool {
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}

// unescape returns src[start:end] without the escaping backslashes at the offsets in escapes.
func unescape(src []byte, start, end int, escapes []int) string {
	var b strings.Builder
	b.Grow(end - start)
	for _, e := range escapes {
		if e < start || e >= end {
			continue
		}
		b.Write(src[start:e])
		start = e + 1
	}
	b.Write(src[start:end])
	return b.String()
}
