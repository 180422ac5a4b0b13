package mdfile

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  Doc
		want string
	}{
		{"all fields",
			Doc{Slug: "rotating-keys", Title: "Rotating keys", Tags: []string{"ops", "key rotation", "2024"},
				Status: "PUBLISHED", Visibility: "WORKSPACE", Body: "body\n"},
			"---\ntitle: Rotating keys\nslug: rotating-keys\ntags: [ops, key rotation, \"2024\"]\nstatus: PUBLISHED\nvisibility: WORKSPACE\n---\nbody\n"},
		{"empty fields omitted",
			Doc{Slug: "a", Title: "T"},
			"---\ntitle: T\nslug: a\n---\n"},
		{"empty tags omitted",
			Doc{Slug: "a", Title: "T", Tags: []string{}, Body: "x"},
			"---\ntitle: T\nslug: a\n---\nx"},
		{"zero Doc",
			Doc{},
			"---\n{}\n---\n"},
		{"body as is",
			Doc{Slug: "a", Title: "T", Body: "---\r\ntitle: not this\r\n---\r\n"},
			"---\ntitle: T\nslug: a\n---\n---\r\ntitle: not this\r\n---\r\n"},
		{"quoted title and tags",
			Doc{Slug: "a", Title: "Go: the \"good\" parts\n", Tags: []string{"a, b", "[x]", `c\d`}},
			"---\ntitle: |\n  Go: the \"good\" parts\nslug: a\ntags: ['a, b', '[x]', c\\d]\n---\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(Render(tt.doc)); got != tt.want {
				t.Fatalf("Render:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestRenderQuoting: whatever a title, tag or alias holds, it reads back unchanged.
func TestRenderQuoting(t *testing.T) {
	t.Parallel()
	values := []string{"plain words", "café 日本語", `say "hi" and it's ok`, `back\slash`, "a:b#c", "a-b?c!d&e*f|g>h%i@j`k",
		" lead", "trail ", "\ttab", "\u00a0nbsp", "a: b", "a:\tb", "a #b", "a:", "line\nbreak", "cr\rlf",
		"nul\x00 esc\x1b del\x7f c1\u0085", "ls\u2028ps\u2029bom\ufeff", `"quoted"`, "true", "No", "null", "~", ".NaN",
		"-.inf", "42", "-1.5e3", ".5", "0x1F", "2024-01-02", "10 Go tips", "a,b", "x]", "a{b}", "a[b", "<<", "*x", "&x", "!x", "%x", "@x"}
	for _, v := range values {
		d := Doc{Slug: "a", Title: v, Aliases: []string{"x" + v}}
		if strings.TrimSpace(v) != v || strings.TrimSpace(v) == "" {
			d.Aliases = nil
		}
		if tag := strings.TrimSpace(v); tag == v && len(tag) <= MaxTagLen && !strings.HasPrefix(tag, "#") && !strings.Contains(tag, ",") {
			d.Tags = []string{v}
		}
		got, err := Parse("a.md", Render(d))
		if err != nil {
			t.Fatalf("%q: Parse(Render): %v\n%s", v, err, Render(d))
		}
		got.File = ""
		if !reflect.DeepEqual(got, d) {
			t.Fatalf("%q reads back as\n%#v\nfrom\n%s", v, got, Render(d))
		}
	}
}

// roundTripDocs are valid Docs that are hard to write: each must come back from Parse(Render(d)).
var roundTripDocs = []Doc{
	{Slug: "a", Title: "T"},
	{Slug: "a", Title: "T", Body: "---\n"},
	{Slug: "a", Title: "T", Body: "---"},
	{Slug: "a", Title: "T", Body: "...\n---\ntitle: x\n---\n"},
	{Slug: "a", Title: "T", Body: "\xEF\xBB\xBF---\n"},
	{Slug: "a", Title: "T", Body: "\r\nwindows\r\n"},
	{Slug: "a", Title: "T", Body: "\n\n\n"},
	{Slug: "a", Title: "T", Body: "not utf-8 \xff\xfe\x00"},
	{Slug: "a", Title: " padded title\t"},
	{Slug: "a", Title: "#"},
	{Slug: "a", Title: "-"},
	{Slug: "a", Title: "---"},
	{Slug: "a", Title: "..."},
	{Slug: "a", Title: "a: b # c"},
	{Slug: "a", Title: `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~` + "`"},
	{Slug: "a", Title: "multi\nline\r\ntitle\x00\x7f\u0085\u2028\ufeff"},
	{Slug: "a", Title: "😀 emoji and 日本語"},
	{Slug: "a", Title: "'single'"},
	{Slug: "a", Title: `\u0041 is not an escape in plain text`},
	{Slug: "a", Title: "yes"},
	{Slug: "a", Title: "3.14"},
	{Slug: "日本語-ページ", Title: "日本語 ページ"},
	{Slug: "a", Title: "T", Tags: []string{"a", "b c", "2024", "a,b", "[x]", "{y}", "x: y", "z#", "q\"uote", "it's", "-", "tab\tin", "é"}},
	{Slug: "a", Title: "T", Aliases: []string{"Other", "2024", "a: b", "yes"}, Created: time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)},
	{Slug: "a", Title: "T", Metadata: json.RawMessage(`{"summary":"x: y","n":1,"f":1.5,"b":true,"z":null,"s":"2024-01-02","t":"true",` +
		`"list":[1,"two",{"three":[]}],"map":{"b":{},"a":"multi\nline"},"date":"last spring"}`)},
	{Slug: "a", Title: "T", Tags: []string{strings.Repeat("é", 32)}},
	{Slug: "a", Title: "T", Status: "DRAFT", Visibility: "PRIVATE"},
	{Slug: "a", Title: "T", Status: "ARCHIVED"},
	{Slug: "a", Title: "T", Visibility: "WORKSPACE"},
	{Slug: strings.Repeat("a", 128), Title: "T"},
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, d := range roundTripDocs {
		if err := d.Validate(); err != nil {
			t.Fatalf("test doc %#v is not valid: %v", d, err)
		}
		file := Render(d)
		got, err := Parse("x.md", file)
		if err != nil {
			t.Fatalf("Parse(Render(%#v)): %v\nfile:\n%s", d, err, file)
		}
		got.File = ""
		if !reflect.DeepEqual(got, d) {
			t.Fatalf("Parse(Render(d)):\n got %#v\nwant %#v\nfile:\n%s", got, d, file)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Doc{Slug: "a", Title: "T"}
	with := func(f func(*Doc)) Doc { d := ok; f(&d); return d }
	tests := []struct {
		name string
		doc  Doc
		want string // the joined message
	}{
		{"empty title", with(func(d *Doc) { d.Title = "" }), "title is empty"},
		{"blank title", with(func(d *Doc) { d.Title = " \n\t" }), "title is empty"},
		{"title not UTF-8", with(func(d *Doc) { d.Title = "a\xff" }), `title "a\xff" is not valid UTF-8`},
		{"empty slug", with(func(d *Doc) { d.Slug = "" }), "slug is empty"},
		{"slug not a slug", with(func(d *Doc) { d.Slug = "A B" }), `slug "A B" is not a valid slug (it would be "a-b")`},
		{"slug path", with(func(d *Doc) { d.Slug = "../etc" }), `slug "../etc" is not a valid slug (it would be "etc")`},
		{"slug too long", with(func(d *Doc) { d.Slug = strings.Repeat("a", 129) }),
			`slug "` + strings.Repeat("a", 129) + `" is longer than 128 bytes`},
		{"empty tags slice", with(func(d *Doc) { d.Tags = []string{} }), "tags is an empty, non-nil slice (use nil)"},
		{"empty tag", with(func(d *Doc) { d.Tags = []string{"a", ""} }), "empty tag"},
		{"untrimmed tag", with(func(d *Doc) { d.Tags = []string{" a"} }), `tag " a" has leading or trailing white space`},
		{"long tag", with(func(d *Doc) { d.Tags = []string{strings.Repeat("x", 65)} }),
			`tag "` + strings.Repeat("x", 65) + `" is longer than 64 bytes`},
		{"tag not UTF-8", with(func(d *Doc) { d.Tags = []string{"\xff"} }), `tag "\xff" is not valid UTF-8`},
		{"duplicate tag", with(func(d *Doc) { d.Tags = []string{"a", "b", "a"} }), `tag "a" appears twice`},
		{"lower-case status", with(func(d *Doc) { d.Status = "draft" }), `status "draft" is not one of DRAFT, PUBLISHED, ARCHIVED`},
		{"unknown visibility", with(func(d *Doc) { d.Visibility = "PUBLIC" }), `visibility "PUBLIC" is not one of PRIVATE, WORKSPACE`},
		{"tag with #", with(func(d *Doc) { d.Tags = []string{"#a"} }), `tag "#a" starts with '#' (Parse drops it)`},
		{"empty alias", with(func(d *Doc) { d.Aliases = []string{""} }), "empty alias"},
		{"duplicate alias", with(func(d *Doc) { d.Aliases = []string{"a", "a"} }), `alias "a" appears twice`},
		{"metadata not an object", with(func(d *Doc) { d.Metadata = json.RawMessage(`[1]`) }), "metadata: metadata is not a JSON object"},
		{"metadata with a field's key", with(func(d *Doc) { d.Metadata = json.RawMessage(`{"title":"x"}`) }), `metadata holds "title", which maps to a field`},
		{"created not in UTC", with(func(d *Doc) { d.Created = time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)) }),
			"created 2024-01-01 00:00:00 +0100 x is not in UTC"},
		{"several", Doc{Status: "x"}, "title is empty\nslug is empty\nstatus \"x\" is not one of DRAFT, PUBLISHED, ARCHIVED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.doc.Validate()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate:\n got %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("%v does not wrap ErrInvalidValue", err)
			}
		})
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%#v) = %v", ok, err)
	}
}
