package wikilink_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mosaicstack/mosaic/agents/knowledge/wikilink"
)

// slugCases is Slugify's table; FuzzSlugify uses its inputs as seeds.
var slugCases = []struct {
	name, in, want string
}{
	{"accents", "Café Crème", "cafe-creme"},
	{"punctuation", "Hello, World!", "hello-world"},
	{"spaces", "  spaces \t  everywhere \n ", "spaces-everywhere"},
	{"slug stays", "some-slug", "some-slug"},
	{"runs collapse", "a--b__c..d", "a-b-c-d"},
	{"symbols", "C++ & C#", "c-c"},
	{"emoji", "I ❤️ Go", "i-go"},
	{"digits", "Top 10 (2024)", "top-10-2024"},
	{"compatibility forms", "ﬁancé ² ①②", "fiance-2-12"},
	{"dotted capital I", "İstanbul", "istanbul"},
	{"german sharp s", "Straße", "straße"},
	{"greek accents fold", "Ελληνικά", "ελληνικα"},
	{"cyrillic short i stays", "Мой Край", "мой-край"},
	{"japanese", "日本語 ページ", "日本語-ページ"},
	{"kana voicing stays", "パート ハート バート", "パート-ハート-バート"},
	{"korean", "한국어 위키", "한국어-위키"},
	{"devanagari", "हिन्दी विकि", "हिन्दी-विकि"},
	{"arabic", "ويكي عربية", "ويكي-عربية"},
	{"mark without a letter", "\u0301a \u0301", "a"},
	{"nothing left", "!!!", ""},
	{"empty", "", ""},
	{"long ascii", strings.Repeat("a", 200), strings.Repeat("a", 128)},
	{"cut exposes a dash", strings.Repeat("a", 127) + " b", strings.Repeat("a", 127)},
	{"cut on a rune boundary", strings.Repeat("日", 50), strings.Repeat("日", 42)},
	{"cut after folding", strings.Repeat("é", 200), strings.Repeat("e", 128)},
	{"invalid utf-8", "a\xffb", "a-b"},
}

func TestSlugify(t *testing.T) {
	t.Parallel()
	for _, tc := range slugCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := wikilink.Slugify(tc.in)
			if got != tc.want {
				t.Fatalf("Slugify(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := wikilink.Slugify(got); again != got {
				t.Fatalf("Slugify(%q) = %q, not idempotent: Slugify again gives %q", tc.in, got, again)
			}
			if len(got) > wikilink.MaxSlugLen || !utf8.ValidString(got) {
				t.Fatalf("Slugify(%q) = %q: %d bytes, valid UTF-8 %t", tc.in, got, len(got), utf8.ValidString(got))
			}
		})
	}
}
