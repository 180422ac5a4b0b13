package wikilink_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/mosaicstack/mosaic/agents/knowledge/wikilink"
)

// FuzzParse checks what holds for every body: offsets point at "[[", every link is valid and its
// slug is the slug of its target, and nothing inside a fence is a link.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		links := wikilink.Parse(s)
		prev := -1
		for _, l := range links {
			checkLink(t, s, l)
			if l.Offset <= prev {
				t.Fatalf("Parse(%q): offset %d after %d", s, l.Offset, prev)
			}
			prev = l.Offset
		}

		// A blank line resets the block and inline state, so a body after one parses alike.
		const prefix = "x\n\n"
		shifted := wikilink.Parse(prefix + s)
		if len(shifted) != len(links) {
			t.Fatalf("Parse(%q) found %d links, with %q before it %d", s, len(links), prefix, len(shifted))
		}
		for i, l := range shifted {
			l.Offset -= len(prefix)
			if l != links[i] {
				t.Fatalf("Parse(%q): link %d is %+v, with %q before it %+v", s, i, links[i], prefix, l)
			}
		}

		// No line of s can close a fence longer than its longest backtick run.
		fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
		if in := wikilink.Parse(fence + "\n" + s + "\n" + fence); len(in) > 0 {
			t.Fatalf("Parse(%q) inside a %d-backtick fence found %+v", s, len(fence), in)
		}
	})
}

// checkLink fails t unless l is a valid link of src.
func checkLink(t *testing.T, src string, l wikilink.Link) {
	t.Helper()
	if l.Offset < 0 || l.Offset > len(src)-4 || !strings.HasPrefix(src[l.Offset:], "[[") {
		t.Fatalf("Parse(%q): link %+v does not start at a \"[[\"", src, l)
	}
	if l.Target == "" || l.Target != strings.TrimSpace(l.Target) || len(l.Target) > 512 ||
		strings.ContainsAny(l.Target, "[]\r\n") {
		t.Fatalf("Parse(%q): invalid target %q", src, l.Target)
	}
	if l.Label != strings.TrimSpace(l.Label) {
		t.Fatalf("Parse(%q): label %q is not trimmed", src, l.Label)
	}
	page, _, _ := strings.Cut(l.Target, "#")
	if want := wikilink.Slugify(page); l.Slug != want {
		t.Fatalf("Parse(%q): slug %q, want Slugify(%q) = %q", src, l.Slug, page, want)
	}
	if l.Slug == "" || len(l.Slug) > wikilink.MaxSlugLen || !utf8.ValidString(l.Slug) {
		t.Fatalf("Parse(%q): invalid slug %q", src, l.Slug)
	}
}

// longestRun returns the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	longest, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			n = 0
			continue
		}
		n++
		longest = max(longest, n)
	}
	return longest
}

// FuzzSlugify checks that a slug is short, valid, lower-case, dash-separated and its own slug,
// and that a link to it resolves to it.
func FuzzSlugify(f *testing.F) {
	for _, tc := range slugCases {
		f.Add(tc.in)
	}
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		slug := wikilink.Slugify(s)
		if again := wikilink.Slugify(slug); again != slug {
			t.Fatalf("Slugify(%q) = %q, not idempotent: Slugify again gives %q", s, slug, again)
		}
		if len(slug) > wikilink.MaxSlugLen || !utf8.ValidString(slug) {
			t.Fatalf("Slugify(%q) = %q: %d bytes, valid UTF-8 %t", s, slug, len(slug), utf8.ValidString(slug))
		}
		if slug == "" {
			return
		}
		if strings.HasPrefix(slug, "-") || strings.HasSuffix(slug, "-") || strings.Contains(slug, "--") {
			t.Fatalf("Slugify(%q) = %q: stray dash", s, slug)
		}
		for _, r := range slug {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.M, r) {
				t.Fatalf("Slugify(%q) = %q holds %U", s, slug, r)
			}
			if unicode.ToLower(r) != r {
				t.Fatalf("Slugify(%q) = %q holds upper-case %U", s, slug, r)
			}
		}
		links := wikilink.Parse("[[" + slug + "]]")
		if len(links) != 1 || links[0].Slug != slug {
			t.Fatalf("Parse of a link to slug %q gives %+v", slug, links)
		}
	})
}
