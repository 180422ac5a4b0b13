package localpg

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDestroyRemovesTheCluster: a temporary cluster leaves nothing behind, also when it lived
// outside its Dir (as root, the server user cannot reach a test's temporary directory, and each
// run used to leave a cluster of half a gigabyte in the system's temporary directory).
func TestDestroyRemovesTheCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "pg")
	s, err := Start(ctx, Config{Dir: dir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	cluster := filepath.Dir(s.dataDir)
	if err := s.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, cluster} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s is still there after Destroy (stat: %v)", d, err)
		}
	}
}
