package mdfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mosaicstack/mosaic/agents/knowledge/wikilink"
)

// Doc is one entry as a file.
type Doc struct {
	Slug       string    // from front matter "slug", else the file name without .md, slugified
	Title      string    // front matter "title", else the first level-1 heading, else the file name
	Aliases    []string  // front matter "aliases" (or "alias"); nil when there are none
	Tags       []string  // front matter "tags" (or "tag"); nil when there are none
	Status     string    // "DRAFT" | "PUBLISHED" | "ARCHIVED"; "" when absent (the importer's default applies)
	Visibility string    // "PRIVATE" | "WORKSPACE"; "" when absent
	Created    time.Time // front matter "created" (or "date"), UTC; zero when absent
	// Metadata is every other front matter key, as a JSON object in the file's order; nil when
	// there are none.
	Metadata json.RawMessage
	File     string // the file's name without .md, as Parse was given it; Render does not write it
	Body     string // everything after the front matter's closing line (the whole file without one), byte for byte
}

// reservedKeys are front matter keys that map to Doc fields: Metadata may not hold them.
var reservedKeys = []string{"title", "slug", "aliases", "alias", "tags", "tag", "status", "visibility", "created"}

// Statuses and visibilities a Doc may carry (besides "", meaning absent).
const (
	StatusDraft         = "DRAFT"
	StatusPublished     = "PUBLISHED"
	StatusArchived      = "ARCHIVED"
	VisibilityPrivate   = "PRIVATE"
	VisibilityWorkspace = "WORKSPACE"
)

// MaxTagLen is the longest tag, in bytes.
const MaxTagLen = 64

var (
	statuses     = []string{StatusDraft, StatusPublished, StatusArchived}
	visibilities = []string{VisibilityPrivate, VisibilityWorkspace}
)

// Validate reports every way d breaks the rules a parsed Doc follows, joined (each error wraps
// ErrInvalidValue); nil means Parse(Render(d)) returns d (File aside). The rules: a title that
// is valid UTF-8 and not only white space; a slug that is non-empty and equal to
// wikilink.Slugify of itself; tags and aliases that are valid UTF-8, trimmed, non-empty, distinct
// and nil rather than empty (tags at most MaxTagLen bytes and not starting with '#'; aliases
// at most 300 characters); Status "" or one of the Status constants, Visibility ""
// or one of the Visibility constants, in upper case; Created in UTC; Metadata nil or a JSON object
// without the keys that map to fields. The body may be anything.
func (d Doc) Validate() error {
	var errs []error
	if msg := checkTitle(d.Title); msg != "" {
		errs = append(errs, invalid("%s", msg))
	}
	if msg := checkSlug(d.Slug); msg != "" {
		errs = append(errs, invalid("%s", msg))
	}
	errs = append(errs, checkList("tag", "tags", d.Tags, func(t string) string {
		if msg := checkTag(t); msg != "" || !strings.HasPrefix(t, "#") {
			return msg
		}
		return fmt.Sprintf("tag %q starts with '#' (Parse drops it)", t)
	})...)
	errs = append(errs, checkList("alias", "aliases", d.Aliases, checkAlias)...)
	if d.Created.Location() != time.UTC {
		errs = append(errs, invalid("created %v is not in UTC", d.Created))
	}
	if d.Metadata != nil {
		nodes, err := metadataNodes(d.Metadata)
		if err != nil {
			errs = append(errs, invalid("metadata: %v", err))
		}
		for i := 0; i+1 < len(nodes); i += 2 {
			if slices.Contains(reservedKeys, nodes[i].Value) {
				errs = append(errs, invalid("metadata holds %q, which maps to a field", nodes[i].Value))
			}
		}
	}
	if d.Status != "" && !slices.Contains(statuses, d.Status) {
		errs = append(errs, invalid("status %q is not one of %s", d.Status, strings.Join(statuses, ", ")))
	}
	if d.Visibility != "" && !slices.Contains(visibilities, d.Visibility) {
		errs = append(errs, invalid("visibility %q is not one of %s", d.Visibility, strings.Join(visibilities, ", ")))
	}
	return errors.Join(errs...)
}

// checkTitle returns what is wrong with a title, or "".
func checkTitle(t string) string {
	switch {
	case !utf8.ValidString(t):
		return fmt.Sprintf("title %q is not valid UTF-8", t)
	case strings.TrimSpace(t) == "":
		return "title is empty"
	}
	return ""
}

// checkSlug returns what is wrong with a slug, or "".
func checkSlug(s string) string {
	switch {
	case s == "":
		return "slug is empty"
	case len(s) > wikilink.MaxSlugLen:
		return fmt.Sprintf("slug %q is longer than %d bytes", s, wikilink.MaxSlugLen)
	case wikilink.Slugify(s) != s:
		return fmt.Sprintf("slug %q is not a valid slug (it would be %q)", s, wikilink.Slugify(s))
	case s == "." || s == ".." || strings.ContainsAny(s, `/\`) || strings.ContainsRune(s, 0):
		// Slugify should never allow these; checked again because the slug names a file.
		return fmt.Sprintf("slug %q cannot be a file name", s)
	}
	return ""
}

// checkList checks the items of a list field: nil rather than empty, each one passing check,
// trimmed, and none twice.
func checkList(item, field string, items []string, check func(string) string) []error {
	var errs []error
	if items != nil && len(items) == 0 {
		errs = append(errs, invalid("%s is an empty, non-nil slice (use nil)", field))
	}
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		switch msg := check(it); {
		case msg != "":
			errs = append(errs, invalid("%s", msg))
		case strings.TrimSpace(it) != it:
			errs = append(errs, invalid("%s %q has leading or trailing white space", item, it))
		case seen[it]:
			errs = append(errs, invalid("%s %q appears twice", item, it))
		}
		seen[it] = true
	}
	return errs
}

// checkAlias returns what is wrong with a trimmed alias, or "".
func checkAlias(a string) string {
	switch {
	case !utf8.ValidString(a):
		return fmt.Sprintf("alias %q is not valid UTF-8", a)
	case strings.TrimSpace(a) == "":
		return "empty alias"
	case utf8.RuneCountInString(a) > 300:
		return fmt.Sprintf("alias %q is longer than 300 characters", a)
	}
	return ""
}

// checkTag returns what is wrong with a trimmed tag, or "".
func checkTag(t string) string {
	switch {
	case !utf8.ValidString(t):
		return fmt.Sprintf("tag %q is not valid UTF-8", t)
	case strings.TrimSpace(t) == "":
		return "empty tag"
	case len(t) > MaxTagLen:
		return fmt.Sprintf("tag %q is longer than %d bytes", t, MaxTagLen)
	}
	return ""
}

// enumValue returns the upper-case form of v (ASCII case-insensitive) if it is one of allowed.
func enumValue(v string, allowed []string) (string, bool) {
	for _, a := range allowed {
		if len(v) == len(a) && asciiUpper(v) == a {
			return a, true
		}
	}
	return "", false
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
