package wikilink_test

import (
	"fmt"

	"github.com/mosaicstack/mosaic/agents/knowledge/wikilink"
)

func ExampleParse() {
	body := "See [[Café Crème#Recipe|the recipe]] and [[retry-policy]].\n\n" +
		"```\n[[Not A Link]]\n```\n" +
		"Neither is `[[this]]` nor \\[[this]]."
	for _, l := range wikilink.Parse(body) {
		fmt.Printf("%d %q → %s (label %q)\n", l.Offset, l.Target, l.Slug, l.Label)
	}
	// Output:
	// 4 "Café Crème#Recipe" → cafe-creme (label "the recipe")
	// 43 "retry-policy" → retry-policy (label "")
}

func ExampleSlugify() {
	fmt.Println(wikilink.Slugify("Café Crème"))
	fmt.Println(wikilink.Slugify("Hello, World!"))
	fmt.Println(wikilink.Slugify("日本語 ページ"))
	fmt.Printf("%q\n", wikilink.Slugify("!!!"))
	// Output:
	// cafe-creme
	// hello-world
	// 日本語-ページ
	// ""
}
