package mosaic_test

import (
	"bufio"
	"errors"
	"go/build"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/mosaicstack/mosaic"

// TestImportsFlowDown holds the code to the package map of docs/architecture.md: its `layers`
// block lists the module's packages from the top (the binary) to the bottom (leaves), a line per
// layer, and a package may import only packages on lines below its own. Every package of the
// module must have its line: a new one is placed in the map before it can land.
func TestImportsFlowDown(t *testing.T) {
	layerOf := readLayers(t, "docs/architecture.md")
	pkgs := modulePackages(t)
	if len(pkgs) < 20 {
		t.Fatalf("found only %d packages: the walk is broken", len(pkgs))
	}
	for _, p := range pkgs {
		if _, ok := layerOf[p.path]; !ok {
			t.Errorf("package %s is not in the layers of docs/architecture.md's package map", p.path)
		}
	}
	for _, p := range pkgs {
		from, ok := layerOf[p.path]
		if !ok {
			continue
		}
		for _, imp := range p.imports {
			to, ok := layerOf[imp]
			if !ok {
				continue // reported above
			}
			if to <= from {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports flow down the package map only", p.path, from, imp, to)
			}
		}
	}
	for p := range layerOf {
		if !slices.ContainsFunc(pkgs, func(q pkg) bool { return q.path == p }) {
			t.Errorf("docs/architecture.md lists %s, which is not a package of the module", p)
		}
	}
}

// readLayers reads the ```layers block of the doc: a line per layer, top first, packages by their
// path in the module ("." for the module's root package), separated by spaces.
func readLayers(t *testing.T, doc string) map[string]int {
	t.Helper()
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	layer, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "```layers":
			in = true
		case in && line == "```":
			in = false
		case in && line != "":
			layer++
			for _, p := range strings.Fields(line) {
				if _, dup := out[p]; dup {
					t.Fatalf("%s: %s is listed twice in the layers", doc, p)
				}
				out[p] = layer
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no ```layers block", doc)
	}
	return out
}

type pkg struct {
	path    string   // in the module: "agents/knowledge", or "." for the root
	imports []string // the module's packages it imports (not its tests), as paths in the module
}

// modulePackages lists the module's packages with the module packages they import, read from
// their Go files as the build sees them on this platform; nested modules (bench/) are not part of it.
func modulePackages(t *testing.T) []pkg {
	t.Helper()
	var out []pkg
	err := filepath.WalkDir(".", func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		name := d.Name()
		if dir != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && dir != "." {
			return filepath.SkipDir // a module of its own
		}
		bp, err := build.ImportDir(dir, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return err
		}
		p := pkg{path: filepath.ToSlash(dir)}
		for _, imp := range bp.Imports {
			if imp == module {
				p.imports = append(p.imports, ".")
			} else if rest, ok := strings.CutPrefix(imp, module+"/"); ok {
				p.imports = append(p.imports, path.Clean(rest))
			}
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
