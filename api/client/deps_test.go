package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientDependencies: a program that talks to Mosaic over HTTP builds the client and what it
// imports, and nothing else of Mosaic: no pgx, no NATS, none of the server's packages. Every
// package outside the standard library that the client depends on (go list -deps) is listed here.
func TestClientDependencies(t *testing.T) {
	allowed := map[string]bool{
		"github.com/google/uuid":                   true,
		"github.com/mosaicstack/mosaic/mosaictype": true,
		"github.com/mosaicstack/mosaic/api/client": true,
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 2 {
		t.Fatalf("go list -deps found %v: the listing is broken", deps)
	}
	for _, dep := range deps {
		if !allowed[dep] {
			t.Errorf("the client depends on %s; it may depend on the standard library, uuid and mosaictype only", dep)
		}
	}
}
