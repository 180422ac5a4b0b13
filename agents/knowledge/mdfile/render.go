package mdfile

import (
	"bytes"
	"time"

	"go.yaml.in/yaml/v3"
)

// Render writes d as a file: the front matter between "---" lines (title, slug, aliases, tags,
// status, visibility, created, then Metadata's keys in their order; empty ones omitted), written
// by the YAML encoder with LF line endings, then the body as is. Aliases and tags are written as
// one [ … ] list. Render does not check d: for a d that passes Validate, Parse(Render(d)) == d
// apart from File, which the name given to Parse sets.
func Render(d Doc) []byte {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	field := func(key, v string) {
		if v != "" {
			m.Content = append(m.Content, strNode(key), strNode(v))
		}
	}
	list := func(key string, items []string) {
		if len(items) == 0 {
			return
		}
		l := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for _, it := range items {
			l.Content = append(l.Content, strNode(it))
		}
		m.Content = append(m.Content, strNode(key), l)
	}
	field("title", d.Title)
	field("slug", d.Slug)
	list("aliases", d.Aliases)
	list("tags", d.Tags)
	field("status", d.Status)
	field("visibility", d.Visibility)
	if !d.Created.IsZero() {
		m.Content = append(m.Content, strNode("created"),
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!timestamp", Value: d.Created.UTC().Format(time.RFC3339Nano)})
	}
	if extra, err := metadataNodes(d.Metadata); err == nil { // Validate reports a bad one
		m.Content = append(m.Content, extra...)
	}
	var b bytes.Buffer
	b.Grow(len(d.Body) + 256)
	b.WriteString("---\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	_ = enc.Encode(m) // into a buffer, from nodes built here: cannot fail
	_ = enc.Close()
	b.WriteString("---\n")
	b.WriteString(d.Body)
	return b.Bytes()
}
