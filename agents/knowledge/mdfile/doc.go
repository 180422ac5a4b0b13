// Package mdfile reads and writes knowledge entries as markdown files with YAML-style front
// matter, for `mosaic knowledge import DIR` and `mosaic knowledge export DIR`.
//
// A file looks like this:
//
//	---
//	title: Rotating Transit keys
//	slug: rotating-transit-keys
//	tags: [ops, "key rotation"]
//	status: PUBLISHED
//	visibility: WORKSPACE
//	---
//	The body, kept byte for byte: everything after the closing "---" line.
//
// The front matter is a small, strict subset of YAML: one "key: value" per line, the keys title
// (required), slug, tags, status and visibility, each at most once. Any other key, a nested map,
// an anchor, a block scalar (| or >) or a value spread over several lines is an error naming the
// file and the line, so that nothing is silently lost on import. Scalars are plain,
// 'single-quoted' (a quote doubled inside) or "double-quoted" with YAML's escapes (\" \\ \n \t \uXXXX…).
// Tags are a one-line list [a, "b c"] or "- item" lines under "tags:". Blank lines and # comments
// are allowed and not kept.
//
// Round trips: Parse(Render(d)) == d for every d that passes Doc.Validate, whatever its body
// (even one starting with "---"); and a parsed file rendered again parses to the same Doc. Render
// writes LF line endings for the front matter; a CRLF body stays CRLF.
//
// ReadDir and WriteDir apply this to a directory: import reads every *.md file below a
// directory and reports each bad file without stopping; export writes <slug>.md files and
// refuses to overwrite unless asked.
package mdfile
