package mdfile

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/yuin/goldmark/ast"
	gmparser "github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"go.yaml.in/yaml/v3"

	"github.com/mosaicstack/mosaic/agents/knowledge/wikilink"
)

var bom = []byte("\xEF\xBB\xBF")

// Parse reads one file. name is its path: for errors, for File, and for the defaults of the
// slug and the title.
//
// Front matter is optional: when the file starts with a line "---" (after an optional UTF-8 byte
// order mark), it runs to the next line "---" or "...", is read as YAML (any YAML a vault holds:
// nested maps, lists, block scalars, anchors) and must be a map; the body is every byte after
// its closing line. Without it the whole file is the body. The keys title, slug, tags (or tag),
// aliases (or alias), status, visibility and created (or date) map to fields; every other key
// goes to Metadata, in the order of the file. A date that is no date stays in Metadata.
//
// Defaults: the title is the first level-1 heading of the body, else the file name without .md;
// the slug is wikilink.Slugify of the file name. Status and visibility are read
// case-insensitively and returned in upper case; tags and aliases are trimmed and deduplicated,
// keeping the first (a tag's leading '#'s are dropped, and one string of tags is split at commas).
// Errors are *ParseError values naming the file and the line.
func Parse(name string, data []byte) (Doc, error) {
	base := filepath.Base(name)
	if ext := filepath.Ext(base); strings.EqualFold(ext, ".md") {
		base = strings.TrimSuffix(base, ext)
	}
	p := &parser{file: name, doc: Doc{File: base}}
	front, body, has, err := p.split(bytes.TrimPrefix(data, bom))
	if err != nil {
		return Doc{}, err
	}
	p.doc.Body = body
	if has {
		if err := p.frontMatter(front); err != nil {
			return Doc{}, err
		}
	}
	if p.doc.Title == "" {
		if p.doc.Title = firstHeading(body); p.doc.Title == "" {
			p.doc.Title = base
		}
		if msg := checkTitle(p.doc.Title); msg != "" {
			return Doc{}, p.errorf(0, ErrInvalidValue, "no title in the front matter, the body or the file name (%s)", msg)
		}
	}
	if p.doc.Slug == "" {
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
}

func (p *parser) errorf(line int, kind error, format string, args ...any) error {
	return &ParseError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...), Err: kind}
}

// split cuts data (without its byte order mark) into the front matter, without its delimiter
// lines, and the body; has is false when the file has no front matter.
func (p *parser) split(data []byte) (front []byte, body string, has bool, err error) {
	first, rest, _ := cutLine(data)
	if !isDelimiter(first, "---") {
		return nil, string(data), false, nil
	}
	start := rest
	for {
		line, after, ok := cutLine(rest)
		if !ok {
			return nil, "", false, p.errorf(1, ErrSyntax,
				`the front matter opened here is never closed (no "---" line after it)`)
		}
		if isDelimiter(line, "---") || isDelimiter(line, "...") {
			return start[:len(start)-len(rest)], string(after), true, nil
		}
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

// yamlLine finds the line in a YAML error message ("yaml: line 3: …").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// frontMatter reads the YAML between the delimiter lines; its line 1 is the file's line 2.
func (p *parser) frontMatter(front []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(front, &root); err != nil {
		msg, line := err.Error(), 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			msg, line = m[2], n+1
		}
		return p.errorf(line, ErrSyntax, "front matter is not YAML: %s", strings.TrimPrefix(msg, "yaml: "))
	}
	if len(root.Content) == 0 {
		return nil // empty front matter
	}
	m := root.Content[0]
	if m.Kind == yaml.ScalarNode && m.ShortTag() == "!!null" {
		return nil
	}
	if m.Kind != yaml.MappingNode {
		return p.errorf(m.Line+1, ErrSyntax, "front matter is not a map of keys to values")
	}
	seen := map[string]int{}
	var meta []pair
	var date *pair
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], resolveAlias(m.Content[i+1])
		line := k.Line + 1
		if k.Kind != yaml.ScalarNode {
			return p.errorf(line, ErrSyntax, "a key that is not a plain value")
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			return p.errorf(line, ErrSyntax, "key %q given twice (first on line %d)", key, first)
		}
		seen[key] = line
		if isNull(v) {
			if !slices.Contains(reservedKeys, key) { // "tags:" with nothing after it: no tags
				meta = append(meta, pair{key, v})
			}
			continue
		}
		var err error
		switch key {
		case "title":
			err = p.scalar(key, v, func(s string) error { return checkValue(checkTitle(s), &p.doc.Title, s) })
		case "slug":
			err = p.scalar(key, v, func(s string) error { return checkValue(checkSlug(s), &p.doc.Slug, s) })
		case "status":
			err = p.scalar(key, v, func(s string) error { return enum(key, s, statuses, &p.doc.Status) })
		case "visibility":
			err = p.scalar(key, v, func(s string) error { return enum(key, s, visibilities, &p.doc.Visibility) })
		case "tags", "tag":
			err = p.list(key, v, true, &p.doc.Tags)
		case "aliases", "alias":
			err = p.list(key, v, false, &p.doc.Aliases)
		case "created":
			if !p.created(v) {
				err = invalid("created %q is not a date (2024-05-01, or with a time: 2024-05-01T09:30:00Z)", v.Value)
			}
		case "date":
			date = &pair{key, v}
			meta = append(meta, *date)
		default:
			meta = append(meta, pair{key, v})
		}
		if err != nil {
			return p.errorf(v.Line+1, ErrInvalidValue, "%v", err)
		}
	}
	if date != nil && p.doc.Created.IsZero() && p.created(date.v) {
		meta = removePair(meta, date.key)
	}
	if len(meta) > 0 {
		j, err := metadataJSON(meta)
		if err != nil {
			return p.errorf(0, ErrInvalidValue, "%v", err)
		}
		p.doc.Metadata = j
	}
	return nil
}

// pair is one front matter key with its value.
type pair struct {
	key string
	v   *yaml.Node
}

func removePair(ps []pair, key string) []pair {
	out := ps[:0]
	for _, p := range ps {
		if p.key != key {
			out = append(out, p)
		}
	}
	return out
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for depth := 0; n.Kind == yaml.AliasNode && n.Alias != nil && depth < 64; depth++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// scalar hands the text of a scalar value to set.
func (p *parser) scalar(key string, v *yaml.Node, set func(string) error) error {
	if v.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s must be a single value, not a %s", key, kindName(v))
	}
	return set(v.Value)
}

func checkValue(msg string, dst *string, v string) error {
	if msg != "" {
		return invalid("%s", msg)
	}
	*dst = v
	return nil
}

func enum(key, v string, allowed []string, dst *string) error {
	s, ok := enumValue(v, allowed)
	if !ok {
		return invalid("%s %q is not one of %s", key, v, strings.Join(allowed, ", "))
	}
	*dst = s
	return nil
}

// list reads a list of values, or one value (for tags, split at commas).
func (p *parser) list(key string, v *yaml.Node, tags bool, dst *[]string) error {
	var items []string
	switch v.Kind {
	case yaml.ScalarNode:
		items = []string{v.Value}
		if tags {
			items = strings.Split(v.Value, ",")
		}
	case yaml.SequenceNode:
		for _, it := range v.Content {
			it = resolveAlias(it)
			if it.Kind != yaml.ScalarNode {
				return fmt.Errorf("%s: an item is a %s, not a single value", key, kindName(it))
			}
			if !isNull(it) {
				items = append(items, it.Value)
			}
		}
	default:
		return fmt.Errorf("%s must be a list or a single value, not a %s", key, kindName(v))
	}
	for _, it := range items {
		it = strings.TrimSpace(it)
		if tags {
			it = strings.TrimSpace(strings.TrimLeft(it, "#"))
		}
		if it == "" || slices.Contains(*dst, it) {
			continue
		}
		msg := checkTag(it)
		if !tags {
			msg = checkAlias(it)
		}
		if msg != "" {
			return invalid("%s", msg)
		}
		*dst = append(*dst, it)
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "map"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// dateLayouts are the forms of created and date that set Created.
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

// created sets Created from a date value; false when it is no date.
func (p *parser) created(v *yaml.Node) bool {
	if v.Kind != yaml.ScalarNode {
		return false
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, strings.TrimSpace(v.Value)); err == nil {
			p.doc.Created = t.UTC()
			return true
		}
	}
	return false
}

// firstHeading is the text of the body's first level-1 heading, as goldmark reads it; "" when
// there is none.
func firstHeading(body string) string {
	src := []byte(body)
	doc := gmparser.NewParser(gmparser.WithBlockParsers(gmparser.DefaultBlockParsers()...),
		gmparser.WithInlineParsers(), gmparser.WithParagraphTransformers()).Parse(text.NewReader(src))
	title := ""
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering && h.Level == 1 {
			var b strings.Builder
			for i := 0; i < h.Lines().Len(); i++ {
				seg := h.Lines().At(i)
				b.Write(seg.Value(src))
			}
			title = strings.TrimSpace(b.String())
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	return title
}
