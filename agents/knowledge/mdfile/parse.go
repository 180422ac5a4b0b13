package mdfile

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mosaicstack/mosaic/agents/knowledge/wikilink"
)

// keys are the front matter keys, in the order Render writes them.
var keys = []string{"title", "slug", "tags", "status", "visibility"}

var bom = []byte("\xEF\xBB\xBF")

// Parse reads one file. name is its path (for errors and the default slug).
//
// The file must start with a line "---" (after an optional UTF-8 byte order mark); the front
// matter ends at the next line "---" or "...", and the body is every byte after that line. Lines
// of the front matter may end in CRLF; the delimiter lines may carry trailing blanks. Without a
// "slug" key the slug is wikilink.Slugify of the file name without its .md extension. Status and
// visibility are read case-insensitively and returned in upper case; tags are trimmed and
// deduplicated, keeping the first. Errors are *ParseError values naming the file, the line and
// the key or value at fault.
func Parse(name string, data []byte) (Doc, error) {
	p := &parser{file: name, seen: make(map[string]int)}
	lines, body, err := p.split(bytes.TrimPrefix(data, bom))
	if err != nil {
		return Doc{}, err
	}
	p.doc.Body = body
	for k := 0; k < len(lines); k++ {
		next, err := p.line(lines, k)
		if err != nil {
			return Doc{}, err
		}
		k = next
	}
	if _, ok := p.seen["title"]; !ok {
		return Doc{}, p.errorf(1, ErrInvalidValue, "front matter has no title")
	}
	if _, ok := p.seen["slug"]; !ok {
		base := filepath.Base(name)
		if ext := filepath.Ext(base); strings.EqualFold(ext, ".md") {
			base = strings.TrimSuffix(base, ext)
		}
		p.doc.Slug = wikilink.Slugify(base)
		if msg := checkSlug(p.doc.Slug); msg != "" {
			return Doc{}, p.errorf(0, ErrInvalidValue,
				"no slug in the front matter and the file name %q gives no valid one (%s)", base, msg)
		}
	}
	return p.doc, nil
}

type parser struct {
	file string
	doc  Doc
	seen map[string]int // key → line it was set on
}

func (p *parser) errorf(line int, kind error, format string, args ...any) error {
	return &ParseError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...), Err: kind}
}

// split cuts data (without its byte order mark) into the front matter lines, line k being line
// k+2 of the file, without their line break, and the body.
func (p *parser) split(data []byte) (lines []string, body string, err error) {
	first, rest, _ := cutLine(data)
	if !isDelimiter(first, "---") {
		return nil, "", p.errorf(0, ErrNoFrontMatter, "%s", ErrNoFrontMatter)
	}
	for {
		line, after, ok := cutLine(rest)
		if !ok {
			return nil, "", p.errorf(1, ErrSyntax,
				`the front matter opened here is never closed (no "---" line after it)`)
		}
		if isDelimiter(line, "---") || isDelimiter(line, "...") {
			return lines, string(after), nil
		}
		lines = append(lines, string(bytes.TrimSuffix(line, []byte("\r"))))
		rest = after
	}
}

// cutLine returns the first line of b without its '\n', and what follows; ok is false when b is
// empty.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	if len(b) == 0 {
		return nil, nil, false
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, b[len(b):], true
}

func isDelimiter(line []byte, delim string) bool {
	return string(bytes.TrimRight(line, " \t\r")) == delim
}

// line reads front matter line k (and, for a block list of tags, the item lines after it) and
// returns the index of the last line it used.
func (p *parser) line(lines []string, k int) (last int, err error) {
	n := k + 2
	l := lines[k]
	if msg := checkLine(l); msg != "" {
		return k, p.errorf(n, ErrSyntax, "%s", msg)
	}
	t := strings.TrimLeft(l, " \t")
	switch {
	case t == "" || t[0] == '#':
		return k, nil // blank or comment
	case isItem(t):
		return k, p.errorf(n, ErrSyntax, `a "- item" line outside a tags list: %q`, l)
	case len(t) < len(l):
		return k, p.errorf(n, ErrSyntax, "unexpected indentation (keys start the line, nested values are not supported): %q", l)
	}
	key, val, ok := splitKey(l)
	if !ok {
		return k, p.errorf(n, ErrSyntax, `expected "key: value", got %q`, l)
	}
	if !slices.Contains(keys, key) {
		return k, p.errorf(n, ErrUnknownKey, "unknown key %q (allowed: %s)", key, strings.Join(keys, ", "))
	}
	if prev, dup := p.seen[key]; dup {
		return k, p.errorf(n, ErrSyntax, "key %q given twice (first on line %d)", key, prev)
	}
	p.seen[key] = n
	if key == "tags" {
		return p.tags(lines, k, val)
	}
	v, _, err := readScalar(val, false)
	if err != nil {
		return k, p.errorf(n, ErrSyntax, "%s: %v", key, err)
	}
	switch key {
	case "title":
		if msg := checkTitle(v); msg != "" {
			return k, p.errorf(n, ErrInvalidValue, "%s", msg)
		}
		p.doc.Title = v
	case "slug":
		if msg := checkSlug(v); msg != "" {
			return k, p.errorf(n, ErrInvalidValue, "%s", msg)
		}
		p.doc.Slug = v
	case "status":
		s, ok := enumValue(v, statuses)
		if !ok {
			return k, p.errorf(n, ErrInvalidValue, "status %q is not one of %s", v, strings.Join(statuses, ", "))
		}
		p.doc.Status = s
	case "visibility":
		s, ok := enumValue(v, visibilities)
		if !ok {
			return k, p.errorf(n, ErrInvalidValue, "visibility %q is not one of %s", v, strings.Join(visibilities, ", "))
		}
		p.doc.Visibility = s
	}
	return k, nil
}

// tags reads the value of "tags:" on line k: a [ … ] list on the line, or nothing there and
// "- item" lines after it.
func (p *parser) tags(lines []string, k int, val string) (last int, err error) {
	n := k + 2
	if strings.HasPrefix(val, "[") {
		items, err := readFlowList(val)
		if err != nil {
			return k, p.errorf(n, ErrSyntax, "tags: %v", err)
		}
		for _, it := range items {
			if err := p.addTag(n, it); err != nil {
				return k, err
			}
		}
		return k, nil
	}
	v, _, err := readScalar(val, false)
	if err != nil {
		return k, p.errorf(n, ErrSyntax, "tags: %v", err)
	}
	if v != "" || strings.HasPrefix(val, `"`) || strings.HasPrefix(val, "'") {
		return k, p.errorf(n, ErrInvalidValue, `tags must be a list, [a, b] or "- a" lines, got %q`, v)
	}
	last = k
	for j := k + 1; j < len(lines); j++ {
		l := lines[j]
		if msg := checkLine(l); msg != "" {
			return j, p.errorf(j+2, ErrSyntax, "%s", msg)
		}
		t := strings.TrimLeft(l, " \t")
		if t == "" || t[0] == '#' {
			continue
		}
		if !isItem(t) {
			break
		}
		item, _, err := readScalar(strings.TrimLeft(t[1:], " \t"), false)
		if err != nil {
			return j, p.errorf(j+2, ErrSyntax, "tags: %v", err)
		}
		if err := p.addTag(j+2, item); err != nil {
			return j, err
		}
		last = j
	}
	return last, nil
}

// addTag trims t and appends it unless it is already there.
func (p *parser) addTag(n int, t string) error {
	t = strings.TrimSpace(t)
	if msg := checkTag(t); msg != "" {
		return p.errorf(n, ErrInvalidValue, "%s", msg)
	}
	if !slices.Contains(p.doc.Tags, t) {
		p.doc.Tags = append(p.doc.Tags, t)
	}
	return nil
}

// isItem reports whether t (a line without its indentation) is a "- item" line.
func isItem(t string) bool {
	return t == "-" || strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "-\t")
}

// splitKey splits "key: value" or "key:"; the key is letters, digits, '_' and '-', and the value
// is returned without leading blanks.
func splitKey(l string) (key, val string, ok bool) {
	i := strings.IndexByte(l, ':')
	if i <= 0 {
		return "", "", false
	}
	for _, c := range []byte(l[:i]) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return "", "", false
		}
	}
	rest := l[i+1:]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", "", false
	}
	return l[:i], strings.TrimLeft(rest, " \t"), true
}

// checkLine returns what is wrong with the characters of a front matter line, or "".
func checkLine(l string) string {
	if !utf8.ValidString(l) {
		return "line is not valid UTF-8"
	}
	if i := strings.IndexFunc(l, func(r rune) bool { return unicode.IsControl(r) && r != '\t' }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(l[i:])
		return fmt.Sprintf("control character %U in the front matter (write it as an escape in a double-quoted value)", r)
	}
	return ""
}
