package mdfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
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
title: "a \"q\" \\ b\nc\td \u00e9 \U0001F600 \x41 \0 \e \N \_ \L \P \ z"
---
`, Doc{Slug: "a", Title: "a \"q\" \\ b\nc\td é 😀 A \x00 \x1b \u0085 \u00a0 \u2028 \u2029  z"}},
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
		{"block tags", "a.md", "---\ntitle: T\ntags:\n  - one\n  # comment\n\n  - \"two words\"\n  - three # comment\n  - one\nstatus: draft\n---\n",
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

		// What vaults hold.
		{"no front matter: title from the first heading", "notes/Restore drill.md", "Intro.\n\n## Not this\n\n# Restore `drill`\n\nbody\n",
			Doc{Slug: "restore-drill", Title: "Restore `drill`", Body: "Intro.\n\n## Not this\n\n# Restore `drill`\n\nbody\n"}},
		{"no front matter, no heading: title from the file name", "notes/Weekly sync.md", "just text\n",
			Doc{Slug: "weekly-sync", Title: "Weekly sync", Body: "just text\n"}},
		{"a heading in code is no title", "a.md", "```\n# not a title\n```\n", Doc{Slug: "a", Title: "a", Body: "```\n# not a title\n```\n"}},
		{"front matter without a title", "My Note.md", "---\ntags: [x]\n---\n# Heading\n",
			Doc{Slug: "my-note", Title: "Heading", Tags: []string{"x"}, Body: "# Heading\n"}},
		{"empty front matter", "a.md", "---\n---\nbody", Doc{Slug: "a", Title: "a", Body: "body"}},
		{"aliases and tags as one value", "a.md", "---\ntitle: T\naliases: Other name\ntags: \"#one, two,#three\"\n---\n",
			Doc{Slug: "a", Title: "T", Aliases: []string{"Other name"}, Tags: []string{"one", "two", "three"}}},
		{"alias and tag keys", "a.md", "---\ntitle: T\nalias: [A, B, A]\ntag: [x]\n---\n",
			Doc{Slug: "a", Title: "T", Aliases: []string{"A", "B"}, Tags: []string{"x"}}},
		{"unknown keys kept in order", "a.md",
			"---\ntitle: T\nsummary: What it is\ncssclass: wide\ncount: 3\nratio: 0.5\ndone: false\nnothing:\ndate: 2024-01-02\n" +
				"people: [Ada, Grace]\nnested:\n  b: 1\n  a: [x, {y: z}]\nanchor: &x {k: v}\nref: *x\nlong: |\n  two\n  lines\n---\n",
			Doc{Slug: "a", Title: "T", Created: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), Metadata: json.RawMessage(
				`{"summary":"What it is","cssclass":"wide","count":3,"ratio":0.5,"done":false,"nothing":null,` +
					`"people":["Ada","Grace"],"nested":{"b":1,"a":["x",{"y":"z"}]},"anchor":{"k":"v"},"ref":{"k":"v"},"long":"two\nlines\n"}`)}},
		{"created wins over date", "a.md", "---\ntitle: T\ndate: 2020-05-05\ncreated: 2021-06-07T08:09:10+02:00\n---\n",
			Doc{Slug: "a", Title: "T", Created: time.Date(2021, 6, 7, 6, 9, 10, 0, time.UTC), Metadata: json.RawMessage(`{"date":"2020-05-05"}`)}},
		{"a date that is no date stays", "a.md", "---\ntitle: T\ndate: last spring\n---\n",
			Doc{Slug: "a", Title: "T", Metadata: json.RawMessage(`{"date":"last spring"}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.file, []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got.File = "" // TestParseFile checks it
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse:\n got %#v\nwant %#v", got, tt.want)
			}
			// A parsed file, rendered again, parses to the same Doc.
			again, err := Parse(tt.file, Render(got))
			if err != nil {
				t.Fatalf("Parse(Render): %v\n%s", err, Render(got))
			}
			again.File = ""
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
	laughs := "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
		"e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]"
	tests := []struct {
		name string
		file string // "" means "a.md"
		in   string
		line int    // 0: the message names the file only
		kind error  // the sentinel the error wraps
		msg  string // a part of the message after "file:line: "
	}{
		{name: "never closed", in: "---\ntitle: T\nbody\n", line: 1, kind: ErrSyntax,
			msg: `the front matter opened here is never closed (no "---" line after it)`},
		{name: "only the opening line", in: "---", line: 1, kind: ErrSyntax, msg: "never closed"},
		{name: "not YAML", in: fm("title: T", "slug: a: b"), line: 3, kind: ErrSyntax,
			msg: "front matter is not YAML: mapping values are not allowed in this context"},
		{name: "not YAML, an open list", in: fm("title: T", "tags: [a, b"), line: 2, kind: ErrSyntax, msg: "did not find expected ',' or ']'"},
		{name: "not YAML, a tab", in: fm("title: T", "\tslug: a"), line: 3, kind: ErrSyntax, msg: "front matter is not YAML"},
		{name: "a list, not a map", in: fm("- a", "- b"), line: 2, kind: ErrSyntax, msg: "front matter is not a map of keys to values"},
		{name: "a value, not a map", in: fm("just text"), line: 2, kind: ErrSyntax, msg: "front matter is not a map"},
		{name: "key given twice", in: fm("title: T", "slug: a", "title: U"), line: 4, kind: ErrSyntax},
		{name: "title is a map", in: fm("title:", "  a: b"), line: 3, kind: ErrInvalidValue, msg: "title must be a single value, not a map"},
		{name: "blank title", in: fm(`title: "  "`), line: 2, kind: ErrInvalidValue, msg: "title is empty"},
		{name: "bad status", in: fm("title: T", "status: done"), line: 3, kind: ErrInvalidValue,
			msg: `status "done" is not one of DRAFT, PUBLISHED, ARCHIVED`},
		{name: "bad visibility", in: fm("title: T", "visibility: [x]"), line: 3, kind: ErrInvalidValue, msg: "visibility must be a single value"},
		{name: "slug not a slug", in: fm("title: T", "slug: Not A Slug"), line: 3, kind: ErrInvalidValue, msg: "is not a valid slug"},
		{name: "tag too long", in: fm("title: T", "tags: ["+long+"]"), line: 3, kind: ErrInvalidValue, msg: "longer than 64 bytes"},
		{name: "tag that is a map", in: fm("title: T", "tags:", "  - a: b"), line: 4, kind: ErrInvalidValue, msg: "tags: an item is a map"},
		{name: "aliases that are a map", in: fm("title: T", "aliases:", "  a: b"), line: 4, kind: ErrInvalidValue, msg: "aliases must be a list"},
		{name: "no slug from the file name", file: "!!!.md", in: fm("title: T"), kind: ErrInvalidValue, msg: "gives no valid one"},
		{name: "aliases expanding without end", in: fm("title: T", laughs), kind: ErrInvalidValue, msg: "more than 10000 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := tt.file
			if file == "" {
				file = "a.md"
			}
			_, err := Parse(file, []byte(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse: %v (%T); want a *ParseError", err, err)
			}
			if pe.File != file || pe.Line != tt.line || !errors.Is(err, tt.kind) || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("Parse: %q (line %d); want line %d, %v, a message with %q", err, pe.Line, tt.line, tt.kind, tt.msg)
			}
			want := fmt.Sprintf("%s:%d: ", file, tt.line)
			if tt.line == 0 {
				want = file + ": "
			}
			if !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Error() = %q; want it to start with %q", err, want)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{"notes/sub/Weekly sync.md": "Weekly sync", "README": "README", "x/Café.MD": "Café"} {
		d, err := Parse(name, []byte("---\ntitle: T\n---\n"))
		if err != nil || d.File != want {
			t.Fatalf("Parse(%q).File = %q (%v); want %q", name, d.File, err, want)
		}
	}
}
