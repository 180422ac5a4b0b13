package wikilink_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mosaicstack/mosaic/agents/knowledge/wikilink"
)

// link builds an expected Link.
func link(offset int, target, slug, label string) wikilink.Link {
	return wikilink.Link{Target: target, Slug: slug, Label: label, Offset: offset}
}

// parseCases is the parser's table; the fuzz tests use its inputs as seeds.
var parseCases = []struct {
	name string
	in   string
	want []wikilink.Link
}{
	// Forms.
	{"plain", "See [[Page]].", []wikilink.Link{link(4, "Page", "page", "")}},
	{"label", "[[Page|the page]]", []wikilink.Link{link(0, "Page", "page", "the page")}},
	{"slug form", "[[some-slug]]", []wikilink.Link{link(0, "some-slug", "some-slug", "")}},
	{"section and label", "[[Page#Section|label]]", []wikilink.Link{link(0, "Page#Section", "page", "label")}},
	{"section", "[[Café Crème#Recipe]]", []wikilink.Link{link(0, "Café Crème#Recipe", "cafe-creme", "")}},
	{"spaces trimmed", "[[  Page  |  a label  ]]", []wikilink.Link{link(0, "Page", "page", "a label")}},
	{"empty label", "[[Page|]]", []wikilink.Link{link(0, "Page", "page", "")}},
	{"second bar is label text", "[[a|b|c]]", []wikilink.Link{link(0, "a", "a", "b|c")}},
	{"embed", "![[image.png]]", []wikilink.Link{link(1, "image.png", "image-png", "")}},
	{"code span in target", "[[The `go` command]]", []wikilink.Link{link(0, "The `go` command", "the-go-command", "")}},
	{"multibyte before", "é [[Page]]", []wikilink.Link{link(3, "Page", "page", "")}},
	{"unicode title", "[[日本語 ページ]]", []wikilink.Link{link(0, "日本語 ページ", "日本語-ページ", "")}},
	{"unicode label", "[[Café Crème|café]]", []wikilink.Link{link(0, "Café Crème", "cafe-creme", "café")}},
	{"several on a line", "[[A]] and [[B|b]], [[C]]", []wikilink.Link{
		link(0, "A", "a", ""), link(10, "B", "b", "b"), link(19, "C", "c", "")}},
	{"start and end of input", "[[Start]] middle [[End]]", []wikilink.Link{
		link(0, "Start", "start", ""), link(17, "End", "end", "")}},
	{"target of 512 bytes", "[[" + strings.Repeat("a", 512) + "]]", []wikilink.Link{
		link(0, strings.Repeat("a", 512), strings.Repeat("a", 128), "")}},

	// Fenced code blocks.
	{"backtick fence", "```\n[[In]]\n```\n[[Out]]", []wikilink.Link{link(15, "Out", "out", "")}},
	{"backtick fence with info", "```go\n[[In]]\n```\n[[Out]]", []wikilink.Link{link(17, "Out", "out", "")}},
	{"tilde fence with info", "~~~ markdown {.x} `q`\n[[In]]\n~~~\n[[Out]]", []wikilink.Link{link(33, "Out", "out", "")}},
	{"backtick info with backtick", "```go`x\n[[Out]]", []wikilink.Link{link(8, "Out", "out", "")}},
	{"shorter run does not close", "````\n```\n[[In]]\n`````\n[[Out]]", []wikilink.Link{link(22, "Out", "out", "")}},
	{"other char does not close", "~~~\n```\n[[In]]\n```\n~~~\n[[Out]]", []wikilink.Link{link(23, "Out", "out", "")}},
	{"closer with text is content", "```\n``` x\n[[In]]\n```  \t\n[[Out]]", []wikilink.Link{link(24, "Out", "out", "")}},
	{"unclosed fence", "[[Before]]\n```\n[[In]]\n", []wikilink.Link{link(0, "Before", "before", "")}},
	{"fence indented 3", "   ```\n[[In]]\n   ```\n[[Out]]", []wikilink.Link{link(21, "Out", "out", "")}},
	{"closer indented 3", "```\n[[In]]\n   ```\n[[Out]]", []wikilink.Link{link(18, "Out", "out", "")}},
	{"closer indented 4 is content", "```\n    ```\n[[In]]", nil},
	{"fence indented 4 is not a fence", "    ```\n[[Page]]", []wikilink.Link{link(8, "Page", "page", "")}},
	{"tab-indented fence is not a fence", "\t```\n[[Page]]", []wikilink.Link{link(5, "Page", "page", "")}},
	{"two backticks are not a fence", "``\n[[Page]]", []wikilink.Link{link(3, "Page", "page", "")}},
	{"fence interrupts a paragraph", "text\n```\n[[In]]\n```", nil},
	{"fence ends a code span", "`a\n```\n[[In]]\n```\n[[Out]]`", []wikilink.Link{link(18, "Out", "out", "")}},

	// Inline code spans.
	{"code span", "`[[In]]` [[Out]]", []wikilink.Link{link(9, "Out", "out", "")}},
	{"double backticks", "``a ` [[In]]`` [[Out]]", []wikilink.Link{link(15, "Out", "out", "")}},
	{"closer must match length", "`` [[In]] ` [[In]] `` [[Out]]", []wikilink.Link{link(22, "Out", "out", "")}},
	{"unmatched backtick", "`[[Page]]", []wikilink.Link{link(1, "Page", "page", "")}},
	{"unmatched double backtick", "``[[Page]]`", []wikilink.Link{link(2, "Page", "page", "")}},
	{"code span across lines", "`a\n[[In]]` [[Out]]", []wikilink.Link{link(11, "Out", "out", "")}},
	{"code span stops at blank line", "`a\n\n[[Page]]`", []wikilink.Link{link(4, "Page", "page", "")}},
	{"code span past the brackets wins", "[[Page `x]]` y", nil},
	{"code span with newline in a link", "[[a `b\nc` d]]", nil},
	{"backslash is literal in code span", "`\\` [[Page]]", []wikilink.Link{link(4, "Page", "page", "")}},
	{"bar in a code span", "[[a `|` b|b `|` c]]", []wikilink.Link{link(0, "a `|` b", "a-b", "b `|` c")}},
	{"no escapes in a code span", "[[a `\\|` b|x]]", []wikilink.Link{link(0, "a `\\|` b", "a-b", "x")}},
	{"bracket in a code span in the target", "[[Use `a[0]`]]", nil},
	{"bracket in a code span in the label", "[[Page|`a[0]`]]", []wikilink.Link{link(0, "Page", "page", "`a[0]`")}},

	// Headings end paragraphs, so a code span cannot run out of one.
	{"atx heading", "## Using `foo\n[[Link]] and `bar`", []wikilink.Link{link(14, "Link", "link", "")}},
	{"setext heading", "Title `a\n===\n[[x]]`", []wikilink.Link{link(13, "x", "x", "")}},
	{"thematic break", "`a\n* * *\n[[x]]`", []wikilink.Link{link(9, "x", "x", "")}},
	{"hashtag is not a heading", "#hashtag `a\n[[x]]`", nil},
	{"link in a heading", "# About [[Page]]", []wikilink.Link{link(8, "Page", "page", "")}},

	// Escapes.
	{"escaped opening", `\[[Page]]`, nil},
	{"escaped second bracket", `[\[Page]]`, nil},
	{"escaped closing", `[[Page\]]`, nil},
	{"escaped backslash", `\\[[Page]]`, []wikilink.Link{link(2, "Page", "page", "")}},
	{"escaped bracket then link", `\[[[Page]]`, []wikilink.Link{link(2, "Page", "page", "")}},
	{"escaped bar in target", `[[a\|b|label]]`, []wikilink.Link{link(0, "a|b", "a-b", "label")}},
	{"escaped bar in label", `[[Page|a\|b]]`, []wikilink.Link{link(0, "Page", "page", "a|b")}},
	{"escaped brackets in label", `[[Page|a \[x\] b]]`, []wikilink.Link{link(0, "Page", "page", "a [x] b")}},
	{"escaped bracket in target", `[[a\]b]]`, nil},
	{"escaped backtick", "\\`[[Page]]`", []wikilink.Link{link(2, "Page", "page", "")}},
	{"backslash before a letter", `[[C:\Users]]`, []wikilink.Link{link(0, `C:\Users`, "c-users", "")}},

	// Brackets.
	{"triple brackets", "[[[Page]]]", []wikilink.Link{link(1, "Page", "page", "")}},
	{"quadruple brackets", "[[[[Page]]]]", []wikilink.Link{link(2, "Page", "page", "")}},
	{"nested link", "[[a [[b]] c]]", []wikilink.Link{link(4, "b", "b", "")}},
	{"extra closing", "[[Page]]]]", []wikilink.Link{link(0, "Page", "page", "")}},
	{"single bracket inside", "[[a]b]]", nil},
	{"single brackets", "[Page]", nil},
	{"unclosed", "[[Page]", nil},
	{"unopened", "[Page]]", nil},

	// Line endings.
	{"CRLF", "```\r\n[[In]]\r\n```\r\n[[Out]]\r\n", []wikilink.Link{link(18, "Out", "out", "")}},
	{"CR", "```\r[[In]]\r```\r[[Out]]\r", []wikilink.Link{link(15, "Out", "out", "")}},
	{"CRLF between links", "[[A]]\r\n[[B]]", []wikilink.Link{link(0, "A", "a", ""), link(7, "B", "b", "")}},
	{"CRLF in target", "[[Pa\r\nge]]", nil},
	{"newline in target", "[[a\nb]]", nil},
	{"newline in label", "[[a|b\nc]]", nil},

	// Invalid targets.
	{"empty", "[[]]", nil},
	{"blank", "[[   ]]", nil},
	{"blank before bar", "[[ |x]]", nil},
	{"no slug", "[[!!!]]", nil},
	{"same-page section", "[[#Section]]", nil},
	{"target of 513 bytes", "[[" + strings.Repeat("a", 513) + "]]", nil},
	{"nothing", "", nil},
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := wikilink.Parse(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}
