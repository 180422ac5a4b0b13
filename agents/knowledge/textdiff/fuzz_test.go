package textdiff

import "testing"

// FuzzUnified checks that Unified's patch turns a into b, that it is empty exactly when a == b,
// and that Stats agrees with its '+' and '-' lines.
func FuzzUnified(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(tc.a, tc.b, tc.context)
	}
	f.Add("a\nb\nc\n", "a\nb\nc", 3)
	f.Add("x\r\ny\r\n", "x\ny", 1)
	f.Add("\n\n\n", "\n\n", 0)
	f.Add("- a\n+ b\n\\ c\n", "+ b\n- a\n\\ c", 2)
	f.Add("a\x00b\n", "\xff\n", -5)

	f.Fuzz(func(t *testing.T, a, b string, context int) {
		context = context%8 - 1 // -1 (the default) to 6; larger values only widen the context
		patch := Unified("from", "to", a, b, context)
		checkPatch(t, a, b, patch)
	})
}
