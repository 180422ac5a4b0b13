package mdfile

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string // the name given to Parse
		in   string
		want Doc
	}{
		{"minimal", "a.md", "---\ntitle: Hello\n---\nbody\n",
			Doc{Slug: "a", Title: "Hello", Body: "body\n"}},
		{"all keys", "x.md",
			"---\ntitle: Rotating keys\nslug: rotating-keys\ntags: [ops, \"key rotation\"]\nstatus: published\nvisibility: Workspace\n---\n# Heading\n",
			Doc{Slug: "rotating-keys", Title: "Rotating keys", Tags: []string{"ops", "key rotation"},
				Status: "PUBLISHED", Visibility: "WORKSPACE", Body: "# Heading\n"}},
		{"slug from file name", "notes/sub/My Great Note.md", "---\ntitle: T\n---\n",
			Doc{Slug: "my-great-note", Title: "T"}},
		{"slug from upper-case extension", "Café Crème.MD", "---\ntitle: T\n---\n",
			Doc{Slug: "cafe-creme", Title: "T"}},
		{"slug from file name without extension", "README", "---\ntitle: T\n---\n",
			Doc{Slug: "readme", Title: "T"}},
		{"front matter slug wins over the file name", "other.md", "---\ntitle: T\nslug: mine\n---\n",
			Doc{Slug: "mine", Title: "T"}},
		{"no body, closing line without newline", "a.md", "---\ntitle: T\n---",
			Doc{Slug: "a", Title: "T"}},
		{"empty body", "a.md", "---\ntitle: T\n---\n",
			Doc{Slug: "a", Title: "T"}},
		{"closing with ...", "a.md", "---\ntitle: T\n...\nbody",
			Doc{Slug: "a", Title: "T", Body: "body"}},
		{"delimiters with trailing blanks", "a.md", "--- \ntitle: T\n---\t\nbody",
			Doc{Slug: "a", Title: "T", Body: "body"}},
		{"byte order mark", "a.md", "\xEF\xBB\xBF---\ntitle: T\n---\nbody",
			Doc{Slug: "a", Title: "T", Body: "body"}},
		{"CRLF front matter and body", "a.md", "---\r\ntitle: T\r\ntags:\r\n  - a\r\n---\r\nline 1\r\nline 2\r\n",
			Doc{Slug: "a", Title: "T", Tags: []string{"a"}, Body: "line 1\r\nline 2\r\n"}},
		{"body starting with ---", "a.md", "---\ntitle: T\n---\n---\nnot: front matter\n---\n",
			Doc{Slug: "a", Title: "T", Body: "---\nnot: front matter\n---\n"}},
		{"body kept byte for byte", "a.md", "---\ntitle: T\n---\n\n\n  x\x00\xff\r\n\ttrailing  ",
			Doc{Slug: "a", Title: "T", Body: "\n\n  x\x00\xff\r\n\ttrailing  "}},
		{"blank lines and comments", "a.md", "---\n# a comment\n\ntitle: T # trailing comment\n   \n  # indented comment\n---\n",
			Doc{Slug: "a", Title: "T"}},
		{"plain scalar with colon and hash inside words", "a.md", "---\ntitle: http://x.org/a#frag, it's 100%\n---\n",
			Doc{Slug: "a", Title: "http://x.org/a#frag, it's 100%"}},
		{"plain scalar trailing blanks dropped", "a.md", "---\ntitle:   Spaced out  \t\n---\n",
			Doc{Slug: "a", Title: "Spaced out"}},
		{"plain scalar that YAML would type", "a.md", "---\ntitle: 2024\n---\n",
			Doc{Slug: "a", Title: "2024"}},
		{"plain scalar true", "a.md", "---\ntitle: true\n---\n",
			Doc{Slug: "a", Title: "true"}},
		{"tab after colon", "a.md", "---\ntitle:\tT\n---\n",
			Doc{Slug: "a", Title: "T"}},
		{"double-quoted escapes", "a.md", `---
title: "a \"q\" \\ b\nc\td \u00e9 \U0001F600 \uD83D\uDE00 \x41 \/ \0 \e \N \_ \L \P \ z"
---
`, Doc{Slug: "a", Title: "a \"q\" \\ b\nc\td é 😀 😀 A / \x00 \x1b \u0085 \u00a0 \u2028 \u2029  z"}},
		{"double-quoted keeps blanks and hash", "a.md", "---\ntitle: \"  # not a comment  \" # a comment\n---\n",
			Doc{Slug: "a", Title: "  # not a comment  "}},
		{"single-quoted", "a.md", "---\ntitle: 'it''s \\n raw: #1'\n---\n",
			Doc{Slug: "a", Title: `it's \n raw: #1`}},
		{"quoted slug, status, visibility", "a.md", "---\ntitle: T\nslug: \"my-slug\"\nstatus: 'Draft'\nvisibility: \"private\"\n---\n",
			Doc{Slug: "my-slug", Title: "T", Status: "DRAFT", Visibility: "PRIVATE"}},
		{"archived", "a.md", "---\ntitle: T\nstatus: ARCHIVED\n---\n",
			Doc{Slug: "a", Title: "T", Status: "ARCHIVED"}},
		{"flow tags trimmed and deduplicated", "a.md", "---\ntitle: T\ntags: [ b , a, ' b', \"c d\", a ]\n---\n",
			Doc{Slug: "a", Title: "T", Tags: []string{"b", "a", "c d"}}},
		{"flow tags trailing comma", "a.md", "---\ntitle: T\ntags: [a, b,] # comment\n---\n",
			Doc{Slug: "a", Title: "T", Tags: []string{"a", "b"}}},
		{"flow tags empty", "a.md", "---\ntitle: T\ntags: []\n---\n",
			Doc{Slug: "a", Title: "T"}},
		{"flow tags with quoted commas and brackets", "a.md", "---\ntitle: T\ntags: [\"a, b\", '[c]', x-y]\n---\n",
			Doc{Slug: "a", Title: "T", Tags: []string{"a, b", "[c]", "x-y"}}},
		{"block tags", "a.md", "---\ntitle: T\ntags:\n  - one\n  # comment\n\n  - \"two words\"\n- three # comment\n  -\tone\nstatus: draft\n---\n",
			Doc{Slug: "a", Title: "T", Tags: []string{"one", "two words", "three"}, Status: "DRAFT"}},
		{"block tags none", "a.md", "---\ntags:\ntitle: T\n---\n",
			Doc{Slug: "a", Title: "T"}},
		{"block tags at the end", "a.md", "---\ntitle: T\ntags: # comment\n - x\n---\n",
			Doc{Slug: "a", Title: "T", Tags: []string{"x"}}},
		{"tag of 64 bytes", "a.md", "---\ntitle: T\ntags: [" + strings.Repeat("t", 64) + "]\n---\n",
			Doc{Slug: "a", Title: "T", Tags: []string{strings.Repeat("t", 64)}}},
		{"title with unicode", "a.md", "---\ntitle: 日本語 ページ\n---\n",
			Doc{Slug: "a", Title: "日本語 ページ"}},
		{"keys in any order", "a.md", "---\nvisibility: private\ntags: [x]\nslug: s\ntitle: T\n---\n",
			Doc{Slug: "s", Title: "T", Tags: []string{"x"}, Visibility: "PRIVATE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.file, []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse:\n got %#v\nwant %#v", got, tt.want)
			}
			// A parsed file, rendered again, parses to the same Doc.
			again, err := Parse(tt.file, Render(got))
			if err != nil {
				t.Fatalf("Parse(Render): %v\n%s", err, Render(got))
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("Parse(Render(Parse(file))):\n got %#v\nwant %#v", again, got)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("a parsed Doc fails Validate: %v", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	fm := func(lines ...string) string { return "---\n" + strings.Join(lines, "\n") + "\n---\nbody\n" }
	long := strings.Repeat("t", 65)
	tests := []struct {
		name string
		file string // "" means "a.md"
		in   string
		line int    // 0: the message names the file only
		kind error  // the sentinel the error wraps
		msg  string // the message after "file:line: "
	}{
		// No front matter.
		{name: "markdown without front matter", in: "# Title\n\nbody\n", kind: ErrNoFrontMatter,
			msg: "no front matter (--- … ---) with a title"},
		{name: "empty file", in: "", kind: ErrNoFrontMatter, msg: "no front matter (--- … ---) with a title"},
		{name: "front matter not on the first line", in: "\n---\ntitle: T\n---\n", kind: ErrNoFrontMatter,
			msg: "no front matter (--- … ---) with a title"},
		{name: "opening line with text", in: "--- x\ntitle: T\n---\n", kind: ErrNoFrontMatter,
			msg: "no front matter (--- … ---) with a title"},
		{name: "no title", in: fm("slug: a", "tags: [x]"), line: 1, kind: ErrInvalidValue,
			msg: "front matter has no title"},
		{name: "empty front matter", in: "---\n---\n", line: 1, kind: ErrInvalidValue, msg: "front matter has no title"},

		// Structure.
		{name: "never closed", in: "---\ntitle: T\nbody\n", line: 1, kind: ErrSyntax,
			msg: `the front matter opened here is never closed (no "---" line after it)`},
		{name: "only the opening line", in: "---", line: 1, kind: ErrSyntax,
			msg: `the front matter opened here is never closed (no "---" line after it)`},
		{name: "unknown key", in: fm("title: T", "author: me"), line: 3, kind: ErrUnknownKey,
			msg: `unknown key "author" (allowed: title, slug, tags, status, visibility)`},
		{name: "keys are case-sensitive", in: fm("Title: T"), line: 2, kind: ErrUnknownKey,
			msg: `unknown key "Title" (allowed: title, slug, tags, status, visibility)`},
		{name: "not key: value", in: fm("title: T", "just some text"), line: 3, kind: ErrSyntax,
			msg: `expected "key: value", got "just some text"`},
		{name: "no blank after the colon", in: fm("title:T"), line: 2, kind: ErrSyntax,
			msg: `expected "key: value", got "title:T"`},
		{name: "no key", in: fm(": T"), line: 2, kind: ErrSyntax, msg: `expected "key: value", got ": T"`},
		{name: "quoted key", in: fm(`"title": T`), line: 2, kind: ErrSyntax, msg: `expected "key: value", got "\"title\": T"`},
		{name: "key given twice", in: fm("title: T", "slug: a", "title: U"), line: 4, kind: ErrSyntax,
			msg: `key "title" given twice (first on line 2)`},
		{name: "indented key", in: fm("title: T", "  slug: a"), line: 3, kind: ErrSyntax,
			msg: `unexpected indentation (keys start the line, nested values are not supported): "  slug: a"`},
		{name: "nested map", in: fm("title: T", "status:", "  name: x"), line: 3, kind: ErrInvalidValue,
			msg: `status "" is not one of DRAFT, PUBLISHED, ARCHIVED`},
		{name: "item outside tags", in: fm("title: T", "- a"), line: 3, kind: ErrSyntax,
			msg: `a "- item" line outside a tags list: "- a"`},
		{name: "control character", in: fm("title: a\x01b"), line: 2, kind: ErrSyntax,
			msg: "control character U+0001 in the front matter (write it as an escape in a double-quoted value)"},
		{name: "lone carriage return", in: fm("title: a\rb"), line: 2, kind: ErrSyntax,
			msg: "control character U+000D in the front matter (write it as an escape in a double-quoted value)"},
		{name: "invalid UTF-8", in: fm("title: T", "slug: \xff"), line: 3, kind: ErrSyntax, msg: "line is not valid UTF-8"},

		// Title.
		{name: "empty title", in: fm("title:"), line: 2, kind: ErrInvalidValue, msg: "title is empty"},
		{name: "empty quoted title", in: fm(`title: ""`), line: 2, kind: ErrInvalidValue, msg: "title is empty"},
		{name: "blank title", in: fm(`title: "  \t"`), line: 2, kind: ErrInvalidValue, msg: "title is empty"},
		{name: "title that is a comment", in: fm(`title: # nothing`), line: 2, kind: ErrInvalidValue, msg: "title is empty"},

		// Scalars.
		{name: "unclosed double quote", in: fm(`title: "abc`), line: 2, kind: ErrSyntax,
			msg: "title: double-quoted value is not closed on its line"},
		{name: "double quote over two lines", in: fm(`title: "abc`, `def"`), line: 2, kind: ErrSyntax,
			msg: "title: double-quoted value is not closed on its line"},
		{name: "backslash at the end", in: fm(`title: "abc\`), line: 2, kind: ErrSyntax,
			msg: "title: double-quoted value is not closed on its line"},
		{name: "unclosed single quote", in: fm(`title: 'it''s`), line: 2, kind: ErrSyntax,
			msg: "title: single-quoted value is not closed on its line"},
		{name: "text after the closing quote", in: fm(`title: "a" b`), line: 2, kind: ErrSyntax,
			msg: `title: unexpected "b" after the closing quote`},
		{name: "comment without a blank", in: fm(`title: 'a'#c`), line: 2, kind: ErrSyntax,
			msg: `title: unexpected "#c" after the closing quote`},
		{name: "unknown escape", in: fm(`title: "a\qb"`), line: 2, kind: ErrSyntax,
			msg: `title: unknown escape "\\q" in double-quoted value`},
		{name: "short \\u escape", in: fm(`title: "\u12"`), line: 2, kind: ErrSyntax,
			msg: `title: escape "\\u12" needs 4 hex digits`},
		{name: "bad hex", in: fm(`title: "\xZZ"`), line: 2, kind: ErrSyntax, msg: `title: escape "\\x" needs 2 hex digits`},
		{name: "lone surrogate", in: fm(`title: "\uD800x"`), line: 2, kind: ErrSyntax,
			msg: `title: escape "\\uD800" is not a valid character (a lone UTF-16 surrogate or beyond U+10FFFF)`},
		{name: "\\U beyond 32 bits", in: fm(`title: "\UFFFFFFFF"`), line: 2, kind: ErrSyntax,
			msg: `title: escape "\\UFFFFFFFF" is not a valid character (a lone UTF-16 surrogate or beyond U+10FFFF)`},
		{name: "surrogate pair with a bad low half", in: fm(`title: "\uD83D\u0041"`), line: 2, kind: ErrSyntax,
			msg: `title: escape "\\uD83D" is not a valid character (a lone UTF-16 surrogate or beyond U+10FFFF)`},
		{name: "beyond unicode", in: fm(`title: "\U00110000"`), line: 2, kind: ErrSyntax,
			msg: `title: escape "\\U00110000" is not a valid character (a lone UTF-16 surrogate or beyond U+10FFFF)`},
		{name: "block scalar |", in: fm("title: |", "  text"), line: 2, kind: ErrSyntax,
			msg: `title: block scalars ('|') are not supported; write a double-quoted value with \n for line breaks`},
		{name: "block scalar >", in: fm("title: >-"), line: 2, kind: ErrSyntax,
			msg: `title: block scalars ('>') are not supported; write a double-quoted value with \n for line breaks`},
		{name: "anchor", in: fm("title: &a T"), line: 2, kind: ErrSyntax, msg: `title: a plain value cannot start with '&'; quote the value`},
		{name: "alias", in: fm("title: *a"), line: 2, kind: ErrSyntax, msg: `title: a plain value cannot start with '*'; quote the value`},
		{name: "tag", in: fm("title: !!str T"), line: 2, kind: ErrSyntax, msg: `title: a plain value cannot start with '!'; quote the value`},
		{name: "flow list as title", in: fm("title: [a]"), line: 2, kind: ErrSyntax, msg: `title: a plain value cannot start with '['; quote the value`},
		{name: "flow map as title", in: fm("title: {a: b}"), line: 2, kind: ErrSyntax, msg: `title: a plain value cannot start with '{'; quote the value`},
		{name: "reserved @", in: fm("title: @me"), line: 2, kind: ErrSyntax, msg: `title: a plain value cannot start with '@'; quote the value`},
		{name: "reserved backquote", in: fm("title: `x`"), line: 2, kind: ErrSyntax, msg: "title: a plain value cannot start with '`'; quote the value"},
		{name: "directive %", in: fm("title: %x"), line: 2, kind: ErrSyntax, msg: `title: a plain value cannot start with '%'; quote the value`},
		{name: "list as title", in: fm("title: - a"), line: 2, kind: ErrSyntax,
			msg: `title: a plain value cannot start with "-" and a blank (nested lists and maps are not supported); quote the value`},
		{name: "map as title", in: fm("title: a: b"), line: 2, kind: ErrSyntax,
			msg: `title: a plain value cannot contain ": " or end with ":"; quote the value`},
		{name: "title ending in a colon", in: fm("title: Note:"), line: 2, kind: ErrSyntax,
			msg: `title: a plain value cannot contain ": " or end with ":"; quote the value`},

		// Slug.
		{name: "slug not a slug", in: fm("title: T", "slug: Not A Slug"), line: 3, kind: ErrInvalidValue,
			msg: `slug "Not A Slug" is not a valid slug (it would be "not-a-slug")`},
		{name: "slug with a slash", in: fm("title: T", "slug: a/b"), line: 3, kind: ErrInvalidValue,
			msg: `slug "a/b" is not a valid slug (it would be "a-b")`},
		{name: "slug dotdot", in: fm("title: T", "slug: .."), line: 3, kind: ErrInvalidValue,
			msg: `slug ".." is not a valid slug (it would be "")`},
		{name: "empty slug", in: fm("title: T", `slug: ""`), line: 3, kind: ErrInvalidValue, msg: "slug is empty"},
		{name: "slug too long", in: fm("title: T", "slug: "+strings.Repeat("a", 129)), line: 3, kind: ErrInvalidValue,
			msg: `slug "` + strings.Repeat("a", 129) + `" is longer than 128 bytes`},
		{name: "no slug from the file name", file: "dir/!!!.md", in: fm("title: T"), kind: ErrInvalidValue,
			msg: `no slug in the front matter and the file name "!!!" gives no valid one (slug is empty)`},

		// Status and visibility.
		{name: "unknown status", in: fm("title: T", "status: done"), line: 3, kind: ErrInvalidValue,
			msg: `status "done" is not one of DRAFT, PUBLISHED, ARCHIVED`},
		{name: "empty status", in: fm("title: T", "status: ''"), line: 3, kind: ErrInvalidValue,
			msg: `status "" is not one of DRAFT, PUBLISHED, ARCHIVED`},
		{name: "status with non-ASCII case folding", in: fm("title: T", "status: publıshed"), line: 3, kind: ErrInvalidValue,
			msg: `status "publıshed" is not one of DRAFT, PUBLISHED, ARCHIVED`},
		{name: "unknown visibility", in: fm("title: T", "visibility: public"), line: 3, kind: ErrInvalidValue,
			msg: `visibility "public" is not one of PRIVATE, WORKSPACE`},

		// Tags.
		{name: "tags as a scalar", in: fm("title: T", "tags: a, b"), line: 3, kind: ErrInvalidValue,
			msg: `tags must be a list, [a, b] or "- a" lines, got "a, b"`},
		{name: "tags as a quoted scalar", in: fm("title: T", `tags: ""`), line: 3, kind: ErrInvalidValue,
			msg: `tags must be a list, [a, b] or "- a" lines, got ""`},
		{name: "flow list not closed", in: fm("title: T", "tags: [a, b"), line: 3, kind: ErrSyntax,
			msg: `tags: the [ … ] list is not closed on its line (a list over several lines is written as "- item" lines)`},
		{name: "flow list over two lines", in: fm("title: T", "tags: [a,", "  b]"), line: 3, kind: ErrSyntax,
			msg: `tags: the [ … ] list is not closed on its line (a list over several lines is written as "- item" lines)`},
		{name: "flow list empty item", in: fm("title: T", "tags: [a,,b]"), line: 3, kind: ErrSyntax,
			msg: "tags: empty item in the [ … ] list"},
		{name: "flow list only a comma", in: fm("title: T", "tags: [,]"), line: 3, kind: ErrSyntax,
			msg: "tags: empty item in the [ … ] list"},
		{name: "flow list comment inside", in: fm("title: T", "tags: [a #b]"), line: 3, kind: ErrSyntax,
			msg: `tags: a comment (" #") cannot be inside a [ … ] list`},
		{name: "flow list text after", in: fm("title: T", "tags: [a] b"), line: 3, kind: ErrSyntax,
			msg: `tags: unexpected "b" after the closing "]"`},
		{name: "flow list text after a quoted item", in: fm("title: T", `tags: ["a" b]`), line: 3, kind: ErrSyntax,
			msg: `tags: expected "," or "]" after item "a", got "b]"`},
		{name: "flow list nested", in: fm("title: T", "tags: [a, [b]]"), line: 3, kind: ErrSyntax,
			msg: `tags: a plain value cannot start with '['; quote the value`},
		{name: "flow list brace inside", in: fm("title: T", "tags: [a{b}]"), line: 3, kind: ErrSyntax,
			msg: `tags: a plain item of a [ … ] list cannot contain "[", "{" or "}"; quote the item`},
		{name: "flow list map item", in: fm("title: T", "tags: [a: b]"), line: 3, kind: ErrSyntax,
			msg: `tags: a plain value cannot contain ": " or end with ":"; quote the value`},
		{name: "flow list empty quoted tag", in: fm("title: T", `tags: [a, ""]`), line: 3, kind: ErrInvalidValue, msg: "empty tag"},
		{name: "flow list blank tag", in: fm("title: T", `tags: ['  ']`), line: 3, kind: ErrInvalidValue, msg: "empty tag"},
		{name: "flow list tag too long", in: fm("title: T", "tags: [a, "+long+"]"), line: 3, kind: ErrInvalidValue,
			msg: `tag "` + long + `" is longer than 64 bytes`},
		{name: "block list empty item", in: fm("title: T", "tags:", "  - a", "  -", "  - b"), line: 5, kind: ErrInvalidValue,
			msg: "empty tag"},
		{name: "block list tag too long", in: fm("title: T", "tags:", "  - a", "  - "+long), line: 5, kind: ErrInvalidValue,
			msg: `tag "` + long + `" is longer than 64 bytes`},
		{name: "block list nested list", in: fm("title: T", "tags:", "  - [a]"), line: 4, kind: ErrSyntax,
			msg: `tags: a plain value cannot start with '['; quote the value`},
		{name: "block list bad quoting", in: fm("title: T", "tags:", "  - a", `  - "b`), line: 5, kind: ErrSyntax,
			msg: "tags: double-quoted value is not closed on its line"},
		{name: "block list control character", in: fm("title: T", "tags:", "  - a\x7f"), line: 4, kind: ErrSyntax,
			msg: "control character U+007F in the front matter (write it as an escape in a double-quoted value)"},
		{name: "indented text under tags", in: fm("title: T", "tags:", "  a"), line: 4, kind: ErrSyntax,
			msg: `unexpected indentation (keys start the line, nested values are not supported): "  a"`},
		{name: "tags given twice", in: fm("title: T", "tags: [a]", "tags:", "- b"), line: 4, kind: ErrSyntax,
			msg: `key "tags" given twice (first on line 3)`},
		{name: "CRLF line numbers", in: "---\r\ntitle: T\r\n\r\nbad: x\r\n---\r\n", line: 4, kind: ErrUnknownKey,
			msg: `unknown key "bad" (allowed: title, slug, tags, status, visibility)`},
		{name: "byte order mark line numbers", in: "\xEF\xBB\xBF---\ntitle: T\nbad: x\n---\n", line: 3, kind: ErrUnknownKey,
			msg: `unknown key "bad" (allowed: title, slug, tags, status, visibility)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := tt.file
			if file == "" {
				file = "a.md"
			}
			doc, err := Parse(file, []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %#v", doc)
			}
			want := file + ": " + tt.msg
			if tt.line > 0 {
				want = fmt.Sprintf("%s:%d: %s", file, tt.line, tt.msg)
			}
			if err.Error() != want {
				t.Fatalf("error:\n got %s\nwant %s", err, want)
			}
			if !errors.Is(err, tt.kind) {
				t.Fatalf("error %v does not wrap %v", err, tt.kind)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != file || pe.Line != tt.line {
				t.Fatalf("error is not a *ParseError for %s line %d: %#v", file, tt.line, err)
			}
			if !reflect.DeepEqual(doc, Doc{}) {
				t.Fatalf("Parse returned a Doc with its error: %#v", doc)
			}
		})
	}
}
