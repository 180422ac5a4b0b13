// Package wikilink finds the [[wiki links]] in the markdown body of a knowledge-base entry and
// derives slugs, with the one Slugify used for entry slugs and link targets alike, so that a link
// resolves to an entry exactly when their slugs are equal.
//
// Parse recognises [[Page]], [[Page|label]], [[some-slug]] and [[Page#Section|label]]. It skips
// fenced code blocks and inline code spans with CommonMark's rules, honours backslash escapes, and
// reports each link with the byte offset of its "[[" in the body.
//
// Parse reads only as much markdown as links need: fences, code spans, escapes, and the lines that
// end a paragraph and so any code span in it (blank lines, headings, thematic breaks). It builds
// no document tree: block quotes and list items are not containers here (a fence written as
// "> ```" is not a fence, though a code span usually covers the same text), indented code blocks
// are ordinary text (a nested list's continuation lines are indented too, and their links count),
// and links inside HTML or HTML comments are reported.
package wikilink
