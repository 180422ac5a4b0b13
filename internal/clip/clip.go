// Package clip cuts text to a size without cutting a character in two: PostgreSQL refuses text
// that is not UTF-8, and half a character in a log or an error reads as garbage.
package clip

import "unicode/utf8"

// Bytes is the longest prefix of s of at most n bytes that ends on a character's boundary.
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < 0 {
		n = 0
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Mark is Bytes followed by "…" when it cut, the whole at most n bytes.
func Mark(s string, n int) string {
	const ellipsis = "…"
	if len(s) <= n {
		return s
	}
	return Bytes(s, n-len(ellipsis)) + ellipsis
}
