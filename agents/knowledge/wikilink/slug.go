package wikilink

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxSlugLen is the longest slug in bytes; Slugify cuts longer ones at a rune boundary.
const MaxSlugLen = 128

// Slugify derives the slug of a title: the same function for entry slugs and link targets, so that
// "Café Crème", "cafe creme" and "cafe-creme" all name one entry.
//
// It decomposes the title (Unicode NFKD), lower-cases it, keeps letters and decimal digits of any
// script, turns every run of anything else into one '-', trims '-' at both ends, and cuts the
// result to at most MaxSlugLen bytes at a rune boundary (trimming a '-' the cut exposes).
//
// Combining marks are dropped after Latin and Greek letters, where writers often leave accents
// out ("Crème" → "creme"). After letters of other scripts a mark is part of the letter — kana
// voicing (ハ, バ and パ are different sounds), Cyrillic й, Indic and Thai vowel signs — so it is
// kept and recomposed (NFC): "日本語 ページ" → "日本語-ページ", not "日本語-ヘーシ".
//
// Invalid UTF-8 counts as a separator. Slugify is idempotent: Slugify(Slugify(s)) == Slugify(s).
// It returns "" when nothing is left, as for "!!!" or "".
func Slugify(title string) string {
	if !utf8.ValidString(title) {
		// NFKD copies an invalid byte and the rune after it unchanged, so "\xf5Ő" would keep its
		// accent the first time and lose it the second.
		title = strings.ToValidUTF8(title, "\uFFFD")
	}
	if !ascii(title) { // ASCII has no decomposition
		title = norm.NFKD.String(title)
	}
	var b strings.Builder
	b.Grow(len(title))
	var (
		dash      bool // a '-' is owed before the next letter or digit
		keepMarks bool // the marks that follow belong to a letter whose accents are not folded
		recompose bool // the result holds runes NFC may compose (kept marks, Hangul jamo)
	)
	for _, r := range title {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			r = unicode.ToLower(r)
			b.WriteRune(r)
			keepMarks = !unicode.In(r, unicode.Latin, unicode.Greek, unicode.Common)
			recompose = recompose || r >= utf8.RuneSelf
		case unicode.Is(unicode.M, r):
			if keepMarks {
				b.WriteRune(r)
				recompose = true
			}
		default:
			dash = true
			keepMarks = false
		}
	}
	s := b.String()
	if recompose {
		s = norm.NFC.String(s)
	}
	if len(s) > MaxSlugLen {
		n := MaxSlugLen
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = strings.TrimRight(s[:n], "-")
	}
	return s
}

// ascii reports whether s is all ASCII.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
