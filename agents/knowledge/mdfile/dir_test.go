package mdfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeTree creates files (path relative to dir → content) below dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"b.md":                   "---\ntitle: B\n---\nbody b\n",
		"a.md":                   "---\ntitle: A\ntags: [x]\nstatus: draft\n---\nbody a\n",
		"sub/Deep Note.md":       "---\ntitle: Deep\n---\n",
		"sub/zz/upper.MD":        "---\ntitle: Upper\n---\n",
		"sub/bad-key.md":         "---\ntitle: T\nstatus: done\n---\n",
		"sub/no-front.md":        "# just markdown\n",
		"sub/not-yaml.md":        "---\ntitle: T\ntags: [x\n---\n",
		"sub/unclosed.md":        "---\ntitle: T\n",
		"c-dup.md":               "---\ntitle: C\nslug: a\n---\n", // same slug as a.md, sorted after it
		"notes.txt":              "---\ntitle: not markdown\n---\n",
		".git/HEAD.md":           "not read: hidden directory\n",
		".hidden.md":             "not read: hidden file\n",
		"sub/.trash/old.md":      "not read\n",
		"sub/zz/empty-dir/.keep": "",
	})

	docs, errs := ReadDir(dir)

	want := []Doc{
		{Slug: "a", Title: "A", Tags: []string{"x"}, Status: "DRAFT", Body: "body a\n", File: "a"},
		{Slug: "b", Title: "B", Body: "body b\n", File: "b"},
		{Slug: "deep-note", Title: "Deep", File: "Deep Note"},
		{Slug: "no-front", Title: "just markdown", Body: "# just markdown\n", File: "no-front"},
		{Slug: "upper", Title: "Upper", File: "upper"},
	}
	if !reflect.DeepEqual(docs, want) {
		t.Fatalf("docs:\n got %#v\nwant %#v", docs, want)
	}
	p := func(rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
	wantErrs := []struct {
		path string
		msg  string
		kind error
	}{
		{p("c-dup.md"), p("c-dup.md") + `: duplicate slug: slug "a" is already used by ` + p("a.md"), ErrDuplicateSlug},
		{p("sub/bad-key.md"), p("sub/bad-key.md") + `:3: status "done" is not one of DRAFT, PUBLISHED, ARCHIVED`, ErrInvalidValue},
		{p("sub/not-yaml.md"), p("sub/not-yaml.md") + `:2: front matter is not YAML: did not find expected ',' or ']'`, ErrSyntax},
		{p("sub/unclosed.md"), p("sub/unclosed.md") + `:1: the front matter opened here is never closed (no "---" line after it)`, ErrSyntax},
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(wantErrs), errs)
	}
	for i, w := range wantErrs {
		e := errs[i]
		if e.Path != w.path || e.Error() != w.msg || !errors.Is(e, w.kind) {
			t.Errorf("error %d:\n got %s (path %s)\nwant %s (path %s, wrapping %v)", i, e, e.Path, w.msg, w.path, w.kind)
		}
	}
}

func TestReadDirMissing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nope")
	docs, errs := ReadDir(dir)
	if len(docs) != 0 || len(errs) != 1 || errs[0].Path != dir || !errors.Is(errs[0], fs.ErrNotExist) {
		t.Fatalf("ReadDir(missing) = %v, %v", docs, errs)
	}
	if want := dir + ": lstat: no such file or directory"; errs[0].Error() != want {
		t.Fatalf("error %q, want %q", errs[0].Error(), want)
	}
}

func TestReadDirReadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"ok.md":       "---\ntitle: OK\n---\n",
		"secret.md":   "---\ntitle: Secret\n---\n",
		"locked/x.md": "---\ntitle: X\n---\n",
	})
	if err := os.Symlink("missing-target", filepath.Join(dir, "broken.md")); err != nil {
		t.Fatal(err)
	}
	wantErrs := map[string]string{
		filepath.Join(dir, "broken.md"): filepath.Join(dir, "broken.md") + ": open: no such file or directory",
	}
	wantDocs := []string{"x", "ok", "secret"} // in path order: locked/x.md, ok.md, secret.md
	if os.Geteuid() != 0 {                    // root reads files whatever their mode
		for _, name := range []string{"secret.md", "locked"} {
			if err := os.Chmod(filepath.Join(dir, name), 0); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(filepath.Join(dir, name), 0o755) })
		}
		wantErrs[filepath.Join(dir, "secret.md")] = filepath.Join(dir, "secret.md") + ": open: permission denied"
		wantErrs[filepath.Join(dir, "locked")] = filepath.Join(dir, "locked") + ": open: permission denied"
		wantDocs = []string{"ok"}
	}
	docs, errs := ReadDir(dir)
	var slugs []string
	for _, d := range docs {
		slugs = append(slugs, d.Slug)
	}
	if !reflect.DeepEqual(slugs, wantDocs) {
		t.Fatalf("slugs = %v, want %v", slugs, wantDocs)
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errs = %v, want %d", errs, len(wantErrs))
	}
	for _, e := range errs {
		if wantErrs[e.Path] != e.Error() {
			t.Errorf("error %q, want %q", e.Error(), wantErrs[e.Path])
		}
	}
}

func TestWriteDirReadDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "export", "nested") // WriteDir creates it
	docs := []Doc{
		{Slug: "alpha", Title: "Alpha: the first", Tags: []string{"x", "y z"}, Status: "PUBLISHED", Visibility: "PRIVATE",
			Body: "---\nstarts like front matter\n---\n"},
		{Slug: "beta", Title: "  beta  ", Body: "crlf\r\nbody\r\n"},
		{Slug: "日本語", Title: "日本語", Body: ""},
		{Slug: "gamma", Title: "multi\nline", Tags: []string{"2024"}, Status: "ARCHIVED"},
	}
	if err := WriteDir(dir, docs, false); err != nil {
		t.Fatalf("WriteDir: %v", err)
	}
	got, errs := ReadDir(dir)
	if len(errs) > 0 {
		t.Fatalf("ReadDir: %v", errs)
	}
	// ReadDir sorts by path: alpha, beta, gamma, 日本語; each knows its file.
	want := []Doc{docs[0], docs[1], docs[3], docs[2]}
	for i := range want {
		want[i].File = want[i].Slug
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadDir(WriteDir(docs)):\n got %#v\nwant %#v", got, want)
	}
	info, err := os.Stat(filepath.Join(dir, "alpha.md"))
	if err != nil || info.Mode().Perm()&0o600 != 0o600 {
		t.Fatalf("alpha.md: %v, %v", info, err)
	}

	// Without overwrite, existing files are refused and nothing is written.
	changed := []Doc{
		{Slug: "new", Title: "New"},
		{Slug: "alpha", Title: "Changed"},
		{Slug: "beta", Title: "Changed"},
	}
	err = WriteDir(dir, changed, false)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("WriteDir without overwrite: %v, want ErrExists", err)
	}
	for _, name := range []string{"alpha.md", "beta.md"} {
		if !strings.Contains(err.Error(), filepath.Join(dir, name)) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new.md")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("new.md was written although the export was refused: %v", err)
	}
	if got, _ := ReadDir(dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("files changed after a refused export: %#v", got)
	}

	// With overwrite, they are replaced and the rest stays.
	if err := WriteDir(dir, changed, true); err != nil {
		t.Fatalf("WriteDir with overwrite: %v", err)
	}
	got, errs = ReadDir(dir)
	if len(errs) > 0 {
		t.Fatalf("ReadDir: %v", errs)
	}
	want = []Doc{changed[1], changed[2], docs[3], changed[0], docs[2]}
	for i := range want {
		want[i].File = want[i].Slug
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after overwrite:\n got %#v\nwant %#v", got, want)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Fatalf("dir holds %d entries, want 5 (no temporary files left): %v", len(entries), entries)
	}
}

func TestWriteDirInvalid(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	tests := []struct {
		name string
		docs []Doc
		kind error
		msg  string
	}{
		{"invalid doc", []Doc{{Slug: "ok", Title: "OK"}, {Slug: "../escape", Title: "T"}}, ErrInvalidValue,
			`doc 1 (slug "../escape"): slug "../escape" is not a valid slug (it would be "escape")`},
		{"missing title", []Doc{{Slug: "a"}}, ErrInvalidValue, `doc 0 (slug "a"): title is empty`},
		{"duplicate slug", []Doc{{Slug: "a", Title: "A"}, {Slug: "b", Title: "B"}, {Slug: "a", Title: "C"}}, ErrDuplicateSlug,
			`duplicate slug: docs 0 and 2 both have slug "a"`},
	}
	for _, tt := range tests {
		err := WriteDir(dir, tt.docs, true)
		if !errors.Is(err, tt.kind) || err.Error() != tt.msg {
			t.Errorf("%s: WriteDir = %v, want %s (%v)", tt.name, err, tt.msg, tt.kind)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WriteDir created %s although every call was refused: %v", dir, err)
	}
}

func TestFileError(t *testing.T) {
	t.Parallel()
	pe := &ParseError{File: "x/a.md", Line: 3, Msg: "bad", Err: ErrSyntax}
	tests := []struct {
		err  FileError
		want string
	}{
		{FileError{Path: "x/a.md", Err: pe}, "x/a.md:3: bad"},
		{FileError{Path: "other.md", Err: pe}, "other.md: x/a.md:3: bad"},
		{FileError{Path: "b.md", Err: errors.New("boom")}, "b.md: boom"},
		{FileError{Path: "c.md"}, "c.md: <nil>"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !errors.Is(tests[0].err, ErrSyntax) {
		t.Error("FileError does not unwrap to the ParseError's kind")
	}
}
