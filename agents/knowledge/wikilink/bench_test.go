package wikilink_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mosaicstack/mosaic/agents/knowledge/wikilink"
)

// benchBody is a realistic entry body: about 20 KiB of prose, lists and headings with about 50 links
// and a few code blocks, some with links in them that Parse must skip.
var benchBody = func() string {
	var b strings.Builder
	for i := 0; b.Len() < 20<<10; i++ {
		fmt.Fprintf(&b, "## Section %d: the `config` block\n\n", i)
		b.WriteString("The ingestion pipeline reads events from the stream, enriches them with the " +
			"workspace settings, and writes the result to the store. Retries follow the policy in " +
			"[[retry-policy|the retry policy]]; a poison message goes to the dead-letter stream " +
			"after the last attempt. See also `events.Publish` for the way results are published, " +
			"and the naming rules, which are *not* negotiable.\n\n")
		fmt.Fprintf(&b, "- [[Transit Keys#Rotation %d]] rotate every 30 days\n- credentials rotate "+
			"on demand (\\[[not a link]])\n- the `[[inline code]]` form is shown literally\n\n", i)
		if i%4 == 0 {
			b.WriteString("```go\n// A fenced block: [[Not A Link]] stays code.\nfunc main() {\n" +
				"\tfmt.Println(\"[[still code]]\")\n}\n```\n\n")
		}
		b.WriteString("A paragraph without links keeps going for a while, so that the ratio of prose " +
			"to markup looks like a real knowledge-base entry written by people, with commas, " +
			"numbers such as 3.14 and 2024-05-01, and the odd [single bracket] or |pipe|. Nothing " +
			"here is special, which is what most of a body is like; the parser should fly " +
			"through it.\n\n")
	}
	return b.String()
}()

func BenchmarkParse(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	var links []wikilink.Link
	for b.Loop() {
		links = wikilink.Parse(benchBody)
	}
	b.ReportMetric(float64(len(links)), "links/op")
}

func BenchmarkSlugify(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		wikilink.Slugify("Deployment Guide: Café Crème (2024)")
	}
}

// BenchmarkParseLongLine is a line of 256 KiB with an opening "[[" every three bytes and no link:
// each "[[" looks at most maxLinkLen bytes ahead (it once copied the rest of the line at each:
// 1.9 s for 200 KB).
func BenchmarkParseLongLine(b *testing.B) {
	body := strings.Repeat("[[a", 256<<10/3)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if links := wikilink.Parse(body); len(links) != 0 {
			b.Fatalf("%d links in a line without one", len(links))
		}
	}
}
