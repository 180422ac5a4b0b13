package mdfile_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mosaicstack/mosaic/agents/knowledge/mdfile"
)

func ExampleParse() {
	file := "---\n" +
		"title: Rotating Transit keys\n" +
		"tags:\n" +
		"  - ops\n" +
		"  - \"key rotation\"\n" +
		"status: published\n" +
		"---\n" +
		"Rotate, then rewrap.\n"
	doc, err := mdfile.Parse("notes/Rotating Keys.md", []byte(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q %q %q %q %q\n", doc.Slug, doc.Title, doc.Tags, doc.Status, doc.Body)

	doc, _ = mdfile.Parse("notes/vault note.md", []byte("---\naliases: [VN]\nauthor: me\ndate: 2024-05-01\n---\n# A vault note\n"))
	fmt.Printf("%q %q %q %s %s\n", doc.Slug, doc.Title, doc.Aliases, doc.Created.Format("2006-01-02"), doc.Metadata)

	_, err = mdfile.Parse("notes/bad.md", []byte("---\ntitle: T\nslug: a: b\n---\n"))
	fmt.Println(err)
	// Output:
	// "rotating-keys" "Rotating Transit keys" ["ops" "key rotation"] "PUBLISHED" "Rotate, then rewrap.\n"
	// "vault-note" "A vault note" ["VN"] 2024-05-01 {"author":"me"}
	// notes/bad.md:3: front matter is not YAML: mapping values are not allowed in this context
}

func ExampleRender() {
	doc := mdfile.Doc{
		Slug:       "go-tips",
		Title:      "Go: tips",
		Tags:       []string{"go", "2024"},
		Visibility: mdfile.VisibilityPrivate,
		Body:       "# Tips\n",
	}
	fmt.Print(string(mdfile.Render(doc)))
	// Output:
	// ---
	// title: 'Go: tips'
	// slug: go-tips
	// tags: [go, "2024"]
	// visibility: PRIVATE
	// ---
	// # Tips
}

func ExampleReadDir() {
	dir, err := os.MkdirTemp("", "mdfile-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	docs := []mdfile.Doc{
		{Slug: "alpha", Title: "Alpha", Body: "first\n"},
		{Slug: "beta", Title: "Beta", Tags: []string{"b"}},
	}
	if err := mdfile.WriteDir(dir, docs, false); err != nil {
		fmt.Println(err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, "broken.md"), []byte("---\ntitle: [x\n---\n"), 0o644)

	read, errs := mdfile.ReadDir(dir)
	for _, d := range read {
		fmt.Println(d.Slug, d.Title, d.Tags)
	}
	for _, e := range errs {
		fmt.Println(strings.TrimPrefix(e.Error(), dir+string(filepath.Separator)))
	}
	// Output:
	// alpha Alpha []
	// beta Beta [b]
	// broken.md:2: front matter is not YAML: did not find expected ',' or ']'
}
