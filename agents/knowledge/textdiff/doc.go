// Package textdiff computes line-based unified diffs between two versions of a text document,
// such as the knowledge base's "diff between version 3 and 7" of a markdown page.
//
// Unified prints what GNU `diff -u --label fromName --label toName` prints: the two headers
// without timestamps, hunks headed `@@ -l,s +l,s @@` (`,s` omitted when s is 1, an empty range
// written as the line before it followed by `,0`), hunks merged when their context would touch
// or overlap, and `\ No newline at end of file` after the last line of a side that lacks its
// final newline. Stats counts the added and removed lines of the same edit script.
//
// Lines are split on "\n" only and compared byte for byte: a CRLF line is a line whose text ends
// in "\r", and a final line without its newline differs from the same text with one.
//
// The edit script comes from Myers' O(ND) algorithm in its linear-space form, as GNU diff runs
// it: common leading and trailing lines are skipped, lines that occur on one side only are
// set aside before the search (they can never be matched, so the result stays minimal), and
// change groups are slid afterwards so that neighbouring groups merge. The script is minimal
// unless one search goes past a cost bound: 4096 edit steps each way, as in GNU diff, for up
// to 32768 lines left after skipping common ends and one-sided lines, so edit distances below
// 8192 lines are always minimal there; for longer inputs the bound shrinks in proportion (down
// to 128), which keeps 1 MiB inputs of any shape under about a second. Past the bound the
// search settles for its furthest-reaching diagonal, as GNU diff does without --minimal, and the
// script is still correct, just possibly a little longer.
package textdiff
