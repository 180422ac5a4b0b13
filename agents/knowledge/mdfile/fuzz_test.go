package mdfile

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mosaicstack/mosaic/agents/knowledge/wikilink"
)

// FuzzRoundTrip builds a Doc from fuzzed strings, normalises it into a valid Doc and checks that
// Parse(Render(d)) == d and that rendering the result again gives the same bytes.
func FuzzRoundTrip(f *testing.F) {
	for _, d := range roundTripDocs {
		f.Add(d.Title, d.Slug, strings.Join(d.Tags, "\n"), "", uint8(len(d.Status)), uint8(len(d.Visibility)), d.Body)
	}
	f.Add("a: b", "", "x\n x \n\n", "multi\nline tag", uint8(1), uint8(2), "---\n")
	f.Add("\"\\'", "Café Crème", "[a]\n{b}\n#c", ",", uint8(3), uint8(1), "\r\n")
	f.Fuzz(func(t *testing.T, title, slug, tags, tag string, status, visibility uint8, body string) {
		d, ok := normalise(title, slug, append(strings.Split(tags, "\n"), tag), status, visibility, body)
		if !ok {
			t.Skip()
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("normalised doc %#v is not valid: %v", d, err)
		}
		file := Render(d)
		got, err := Parse("fuzz.md", file)
		if err != nil {
			t.Fatalf("Parse(Render(%#v)): %v\nfile:\n%s", d, err, file)
		}
		got.File = ""
		if !reflect.DeepEqual(got, d) {
			t.Fatalf("Parse(Render(d)):\n got %#v\nwant %#v\nfile:\n%s", got, d, file)
		}
		if again := Render(got); string(again) != string(file) {
			t.Fatalf("Render(Parse(Render(d))) differs:\n%q\n%q", again, file)
		}
	})
}

// normalise turns fuzzed strings into a valid Doc, or reports false when the title is blank.
func normalise(title, slug string, tags []string, status, visibility uint8, body string) (Doc, bool) {
	d := Doc{Title: strings.ToValidUTF8(title, "\uFFFD"), Body: body}
	if strings.TrimSpace(d.Title) == "" {
		return Doc{}, false
	}
	d.Slug = wikilink.Slugify(slug)
	if d.Slug == "" {
		d.Slug = wikilink.Slugify(d.Title)
	}
	if d.Slug == "" {
		d.Slug = "doc"
	}
	for _, t := range tags {
		t = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(strings.ToValidUTF8(t, "\uFFFD")), "#"))
		if len(t) > MaxTagLen {
			n := MaxTagLen
			for !utf8.RuneStart(t[n]) {
				n--
			}
			t = strings.TrimSpace(t[:n])
		}
		if t != "" && !slices.Contains(d.Tags, t) {
			d.Tags = append(d.Tags, t)
		}
	}
	d.Status = append([]string{""}, statuses...)[int(status)%(len(statuses)+1)]
	d.Visibility = append([]string{""}, visibilities...)[int(visibility)%(len(visibilities)+1)]
	return d, true
}

// FuzzParse feeds arbitrary files to Parse: it must not panic, its errors must be *ParseError
// values of a known kind, and a Doc it returns must be valid and survive Render and Parse again.
func FuzzParse(f *testing.F) {
	for _, d := range roundTripDocs {
		f.Add(Render(d))
	}
	for _, s := range []string{
		"---\ntitle: T\ntags:\n  - a\n  - 'b'\nstatus: draft\n---\nbody",
		"\xEF\xBB\xBF---\r\ntitle: \"x\\u00e9\"\r\ntags: [a, b,]\r\n...\r\nbody\r\n",
		"---\ntitle: a # c\nslug: my-slug\nvisibility: Private\n---\n",
		"---\ntitle: 'it''s'\ntags: []\n---",
		"# no front matter",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.md", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "fuzz.md" || pe.Msg == "" {
				t.Fatalf("error %#v is not a *ParseError for fuzz.md", err)
			}
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("error %v has no known kind", err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("parsed doc %#v is not valid: %v", d, err)
		}
		again, err := Parse("fuzz.md", Render(d))
		if err != nil {
			t.Fatalf("Parse(Render(Parse(file))): %v\nfile: %q\nrendered: %q", err, data, Render(d))
		}
		if !reflect.DeepEqual(again, d) {
			t.Fatalf("Parse(Render(Parse(file))):\n got %#v\nwant %#v", again, d)
		}
	})
}
