// Package mdfile reads and writes knowledge entries as markdown files with YAML front matter, for
// `mosaic knowledge import DIR` and `mosaic knowledge export DIR`: the files a vault of Obsidian,
// Foam or Logseq holds.
//
// A file looks like this:
//
//	---
//	title: Rotating Transit keys
//	slug: rotating-transit-keys
//	aliases: [key rotation]
//	tags: [ops, "key rotation"]
//	status: PUBLISHED
//	visibility: WORKSPACE
//	created: 2024-05-01T09:30:00Z
//	author: Ada
//	reviewers:
//	  - Grace
//	---
//	The body, kept byte for byte: everything after the closing "---" line.
//
// The front matter is YAML, read by go.yaml.in/yaml/v3: any map a vault holds (nested maps,
// lists, block scalars, anchors) is accepted. The keys title, slug, aliases, tags, status,
// visibility and created (or date) map to Doc fields; every other key is kept, in order, as the
// Doc's Metadata (a JSON object) and written back by Render. Front matter that is not YAML, or not
// a map, is an error naming the file and the line; a file without front matter is all body, its
// title taken from its first level-1 heading or its file name.
//
// Round trips: Parse(Render(d)) == d (File aside) for every d that passes Doc.Validate, whatever
// its body (even one starting with "---"); and a parsed file rendered again parses to the same
// Doc, so that a file Mosaic wrote is written back byte for byte. Render writes LF line endings
// for the front matter; a CRLF body stays CRLF.
//
// ReadDir and WriteDir apply this to a directory: import reads every *.md file below a
// directory and reports each bad file without stopping; export writes <slug>.md files and
// refuses to overwrite unless asked.
package mdfile
