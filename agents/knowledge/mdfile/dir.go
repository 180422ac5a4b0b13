package mdfile

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ReadDir reads every *.md file under dir (recursively, sorted by path), returning the docs that
// parsed and an error per file that did not; a slug seen twice is an error on the second file
// (wrapping ErrDuplicateSlug), and the first keeps it.
//
// The extension is matched case-insensitively (.md, .MD). Files and directories whose name starts
// with '.' (.git, .obsidian, .trash…) are skipped. A directory that cannot be read is reported as
// a FileError too, and the walk goes on. Paths in docs' errors are dir joined with the path below
// it. Errors come sorted by path.
func ReadDir(dir string) ([]Doc, []FileError) {
	var (
		paths []string
		errs  []FileError
	)
	walkErr := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, FileError{Path: path, Err: trimPathError(path, err)})
			return nil // a directory that cannot be listed is skipped
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".md") {
			paths = append(paths, path)
		}
		return nil
	})
	if walkErr != nil { // not expected: the callback never fails
		errs = append(errs, FileError{Path: dir, Err: walkErr})
	}
	slices.Sort(paths)

	var docs []Doc
	owner := make(map[string]string) // slug → path of the file that has it
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, FileError{Path: path, Err: trimPathError(path, err)})
			continue
		}
		doc, err := Parse(path, data)
		if err != nil {
			errs = append(errs, FileError{Path: path, Err: err})
			continue
		}
		if first, dup := owner[doc.Slug]; dup {
			errs = append(errs, FileError{Path: path,
				Err: fmt.Errorf("%w: slug %q is already used by %s", ErrDuplicateSlug, doc.Slug, first)})
			continue
		}
		owner[doc.Slug] = path
		docs = append(docs, doc)
	}
	slices.SortStableFunc(errs, func(a, b FileError) int { return cmp.Compare(a.Path, b.Path) })
	return docs, errs
}

// trimPathError drops the path from an *fs.PathError about path, since FileError names it.
func trimPathError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// WriteDir writes each doc to dir/<slug>.md (creating dir), refusing to overwrite an existing file
// unless overwrite is true.
//
// Nothing is written when a doc fails Validate, when two docs share a slug (ErrDuplicateSlug) or,
// without overwrite, when any of the files exists already (ErrExists, listing them all); the
// errors are joined. Files are created with mode 0644, dir with 0755. With overwrite a file is
// replaced atomically (written beside it, then renamed); without it, a file that appears after
// the check is not clobbered either (ErrExists). An I/O error stops the writing: the files before
// it stay written.
func WriteDir(dir string, docs []Doc, overwrite bool) error {
	var errs []error
	owner := make(map[string]int, len(docs)) // slug → index of the doc that has it
	for i, d := range docs {
		if err := d.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("doc %d (slug %q): %w", i, d.Slug, err))
			continue
		}
		if j, dup := owner[d.Slug]; dup {
			errs = append(errs, fmt.Errorf("%w: docs %d and %d both have slug %q", ErrDuplicateSlug, j, i, d.Slug))
			continue
		}
		owner[d.Slug] = i
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !overwrite {
		for _, d := range docs {
			path := filepath.Join(dir, d.Slug+".md")
			if _, err := os.Lstat(path); err == nil {
				errs = append(errs, fmt.Errorf("%w: %s (overwrite is off)", ErrExists, path))
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	for _, d := range docs {
		path := filepath.Join(dir, d.Slug+".md")
		var err error
		if overwrite {
			err = replaceFile(path, Render(d))
		} else {
			err = createFile(path, Render(d))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// createFile writes a new file at path, failing with ErrExists if there is one.
func createFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s (overwrite is off)", ErrExists, path)
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// replaceFile writes data to a temporary file beside path and renames it over path.
func replaceFile(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".mdfile-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
