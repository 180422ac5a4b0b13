package mdfile

import "strings"

// Render writes d as a file: the front matter (title, slug, tags, status, visibility in that
// order, empty ones omitted) between "---" lines, with LF line endings, then the body as is.
// Values are written plain when that reads back unchanged and double-quoted with escapes
// otherwise; tags are written as one [ … ] list. Render does not check d: for a d that passes
// Validate, Parse(Render(d)) == d.
func Render(d Doc) []byte {
	var b strings.Builder
	b.Grow(len(d.Body) + 128)
	b.WriteString("---\n")
	field := func(key, v string) {
		if v == "" {
			return
		}
		b.WriteString(key)
		b.WriteString(": ")
		writeScalar(&b, v, false)
		b.WriteByte('\n')
	}
	field("title", d.Title)
	field("slug", d.Slug)
	if len(d.Tags) > 0 {
		b.WriteString("tags: [")
		for i, t := range d.Tags {
			if i > 0 {
				b.WriteString(", ")
			}
			writeScalar(&b, t, true)
		}
		b.WriteString("]\n")
	}
	field("status", d.Status)
	field("visibility", d.Visibility)
	b.WriteString("---\n")
	b.WriteString(d.Body)
	return []byte(b.String())
}
