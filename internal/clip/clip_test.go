package clip_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mosaicstack/mosaic/internal/clip"
)

func TestBytesNeverCutsACharacter(t *testing.T) {
	for _, s := range []string{"", "short", strings.Repeat("a", 9) + "é", strings.Repeat("a", 8) + "€x", "𝄞𝄞𝄞𝄞"} {
		for n := 0; n <= len(s)+1; n++ {
			got := clip.Bytes(s, n)
			if len(got) > n && len(s) > n || !utf8.ValidString(got) || !strings.HasPrefix(s, got) {
				t.Fatalf("Bytes(%q, %d) = %q", s, n, got)
			}
			// The longest such prefix: one more character would not fit.
			if len(got) < len(s) {
				_, size := utf8.DecodeRuneInString(s[len(got):])
				if len(got)+size <= n {
					t.Fatalf("Bytes(%q, %d) = %q: the next character fits too", s, n, got)
				}
			}
		}
	}
}

func TestMark(t *testing.T) {
	if got := clip.Mark("short", 10); got != "short" {
		t.Fatalf("a short text changed: %q", got)
	}
	got := clip.Mark(strings.Repeat("é", 10), 10)
	if got != "ééé…" || len(got) > 10 {
		t.Fatalf("Mark = %q (%d bytes); want ééé… (three 2-byte characters and the 3-byte mark)", got, len(got))
	}
}
